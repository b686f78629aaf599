"""Running policy unit tests (:mod:`gamsi.streams.policy.policy_tests`) on the pure engine.

Time is simulated: sample ``i`` of every series is taken at ``T0 + i * interval``; the
samples of one host at one step travel as one metric batch (as a collector sends them),
a step where all of a host's series are missing sends no batch (the collector was
silent), and the engine's no-data ticks run every ``tick`` seconds, as a stream worker's
timer does, up to the last sample or ``run_for``. Nothing reads the wall clock, so a
test gives the same result on every machine.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from typing import Any

from gamsi.schemas.records import MetricBatch, Sample
from gamsi.settings import Settings
from gamsi.streams.engine import Engine
from gamsi.streams.policy.errors import PolicyError
from gamsi.streams.policy.load import load_policy
from gamsi.streams.policy.policy_tests import (
    T0,
    Case,
    TestFile,
    Transition,
    clock,
    load_test_file,
    seen,
)


@dataclass
class Outcome:
    """One test's result: the expected transitions not seen, and those seen unexpectedly."""

    case: Case
    got: list[Transition]
    missing: list[Transition] = field(default_factory=list)
    unexpected: list[Transition] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.missing and not self.unexpected

    def report(self, source: str) -> str:
        """The readable diff of a failed test (or one line for a passed one)."""
        head = f"{'ok' if self.passed else 'FAILED'}  {source}: {self.case.name}"
        if self.passed:
            return head
        out = [head]
        for title, rows in (("expected, not seen:", self.missing),
                            ("seen, not expected:", self.unexpected)):  # fmt: skip
            if rows:
                out += [f"  {title}", *(f"    - {t.text()}" for t in rows)]
        out.append("  every transition seen:" if self.got else "  no transition was seen")
        out += [f"      {t.text()}" for t in self.got]
        return "\n".join(out)


def run_case(engine: Engine, tf: TestFile, case: Case) -> list[Transition]:
    """Every transition the engine makes on ``case``'s series, in time order."""
    steps = max(len(s.values) for s in case.series)
    end = max((steps - 1) * tf.interval, case.run_for)
    times = {round(i * tf.interval, 6): i for i in range(steps)}
    ticks = [round(k * tf.tick, 6) for k in range(int(end / tf.tick) + 1)]
    states: dict[str, Any] = {}
    seq: dict[str, int] = {}
    out: list[Transition] = []
    for at in sorted(set(times) | set(ticks)):
        step = times.get(at)
        if step is not None:
            for host, (os_name, tags) in case.hosts.items():
                samples = [
                    Sample(s.item, v, s.instance)
                    for s in case.series
                    if s.host == host and step < len(s.values)
                    and (v := s.values[step]) is not None
                ]  # fmt: skip
                if not samples:
                    continue
                seq[host] = seq.get(host, -1) + 1
                batch = MetricBatch(host, T0 + at, samples, seq[host], tf.interval, os_name,
                                    list(tags), "policy-test")  # fmt: skip
                states[host], events = engine.process(states.get(host), batch)
                out += [seen(e) for e in events]
        if at in ticks:
            for host in case.hosts:
                states[host], events = engine.tick(states.get(host), host, T0 + at)
                out += [seen(e) for e in events]
    return out


def check(case: Case, got: list[Transition]) -> Outcome:
    """Compare; each expectation takes at most one seen transition."""
    outcome = Outcome(case, got)
    left = list(got)
    for want in case.expect:
        match = next((g for g in left if want.matches(g)), None)
        if match is None:
            outcome.missing.append(want)
        else:
            left.remove(match)
    outcome.unexpected = left
    return outcome


def run_file(path: str) -> list[Outcome]:
    """Every test of the file at ``path``; raises PolicyError for a bad file or policy."""
    tf = load_test_file(path)
    engine = Engine(load_policy(tf.policy))
    return [check(case, run_case(engine, tf, case)) for case in tf.cases]


def _test(args: argparse.Namespace, settings: Settings) -> int:
    """`gamsi policy test FILE...`: 0 when every test passes, 1 when one fails (its diff
    printed), and a one-line error (exit 2) for a test file or policy that is not valid."""
    from gamsi.cli import UserError

    failed = total = 0
    for path in args.files:
        try:
            outcomes = run_file(path)
        except PolicyError as exc:
            raise UserError(str(exc)) from None
        for o in outcomes:
            total += 1
            failed += not o.passed
            if not o.passed or args.verbose_tests:
                print(o.report(path))
    verdict = f"{failed} of {total} failed" if failed else "all passed"
    print(f"{total} policy tests in {len(args.files)} files: {verdict}")
    return 1 if failed else 0


def add_test_command(psub: Any) -> None:
    """Register `gamsi policy test` on the `gamsi policy` subparsers."""
    from gamsi.cli import command

    p = command(psub, "test", _test, "run unit tests of watch policies (like promtool test rules)")
    p.add_argument("files", nargs="+", metavar="TESTFILE", help="policy test YAML files")
    p.add_argument("--show", dest="verbose_tests", action="store_true",
                   help="print every test, not only the failed ones")  # fmt: skip


__all__ = ["Outcome", "add_test_command", "check", "clock", "run_case", "run_file"]
