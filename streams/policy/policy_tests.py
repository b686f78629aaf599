"""`gamsi policy test FILE...`: unit tests for watch policies, like `promtool test rules`.

A test file (YAML) names a policy, and holds tests; each test feeds input series per
host and item to the pure engine (:class:`gamsi.streams.engine.Engine`, the same code the
stream workers run, with no-data ticks between samples) and compares every transition
it produces with the expected ones — the whole list, so an unexpected raise fails too:

.. code-block:: yaml

    policy: ../site.yaml        # relative to this file; omitted: the shipped OS defaults
    interval: 10s               # seconds between samples (default 10s)
    tests:
      - name: cpu-busy raises once the 5-minute average is high
        hosts: {web-1: {os: linux, tags: [prod]}}   # optional (default: os linux)
        series:
          - {host: web-1, item: cpu.util, values: "20x30 99x60"}   # promtool notation
        run_for: 20m            # optional: keep ticking after the last sample
        expect:
          - {at: 9m10s, host: web-1, watch: cpu-busy, transition: raise, severity: caution}

``at`` is the time since the first sample; ``instance`` and ``item`` are compared when
given. The values notation is :mod:`gamsi.streams.policy.series`. A failing test prints
the expected transitions not seen and the transitions seen but not expected.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gamsi import durations
from gamsi.files import FileFormatError, read_yaml_document
from gamsi.schemas.records import Severity, SeverityEvent
from gamsi.streams.policy.errors import PolicyError
from gamsi.streams.policy.series import expand

_PART = re.compile(r"\d+(?:\.\d+)?(?:ms|s|m|h|d)")
_COMPOUND = re.compile(rf"(?:{_PART.pattern}){{2,}}")
T0 = 1_767_225_600.0
"""The time of the first sample (2026-01-01 00:00 UTC; tests read times relative to it)."""
TRANSITIONS = ("raise", "escalate", "deescalate", "recover")
TOP_KEYS = {"policy", "interval", "tick", "tests"}
TEST_KEYS = {"name", "hosts", "series", "expect", "run_for"}
SERIES_KEYS = {"host", "item", "instance", "values"}
EXPECT_KEYS = {"at", "host", "watch", "transition", "severity", "instance", "item"}


@dataclass(frozen=True)
class Transition:
    """One transition, as expected or as seen: ``at`` seconds after the first sample."""

    at: float
    host: str
    watch: str
    transition: str
    severity: int
    instance: str | None = None
    item: str | None = None

    def text(self) -> str:
        extra = "".join(f" {k}={v}" for k, v in (("item", self.item), ("instance", self.instance))
                        if v)  # fmt: skip
        sev = Severity(self.severity).name
        return f"at {clock(self.at):>7}  {self.host} {self.watch}{extra}  {self.transition} {sev}"

    def matches(self, seen: Transition) -> bool:
        """Whether ``seen`` is this expectation (item and instance only when given)."""
        return (
            (self.at, self.host, self.watch, self.transition, self.severity)
            == (seen.at, seen.host, seen.watch, seen.transition, seen.severity)
            and self.instance in (None, seen.instance)
            and self.item in (None, seen.item)
        )


def clock(seconds: float) -> str:
    """``9m10s``, ``2h``, ``0s``."""
    s = round(seconds, 3)
    h, rest = divmod(s, 3600)
    m, sec = divmod(rest, 60)
    parts = [f"{int(h)}h" if h else "", f"{int(m)}m" if m else "", f"{sec:g}s" if sec else ""]
    return "".join(parts) or "0s"


@dataclass
class Series:
    host: str
    item: str
    instance: str
    values: list[float | None]


@dataclass
class Case:
    """One test of a test file."""

    name: str
    hosts: dict[str, tuple[str, tuple[str, ...]]]
    series: list[Series]
    expect: list[Transition]
    run_for: float = 0.0


@dataclass
class TestFile:
    """A parsed test file: the policy path (None: the shipped defaults), the sample
    interval and the no-data tick period in seconds, and its tests."""

    source: str
    policy: str | None
    interval: float
    tick: float
    cases: list[Case] = field(default_factory=list)


class _Reader:
    """Strict reading of one test file; errors are PolicyError ``FILE:LINE: PATH: ...``."""

    def __init__(self, source: str, lines: Any) -> None:
        self.source, self.lines = source, lines

    def fail(self, path: str, message: str) -> PolicyError:
        return PolicyError(self.source, path, message, self.lines(path))

    def mapping(self, value: Any, path: str, keys: set[str]) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(path, f"expected a mapping, got {type(value).__name__}")
        unknown = sorted(set(value) - keys)
        if unknown:
            raise self.fail(f"{path}.{unknown[0]}".lstrip("."),
                            f"unknown key; expected one of {', '.join(sorted(keys))}")  # fmt: skip
        return value

    def text(self, data: dict[str, Any], key: str, path: str, default: str | None = None) -> str:
        value = data.get(key, default)
        if not isinstance(value, str) or (default is None and not value):
            raise self.fail(f"{path}.{key}", f"expected a non-empty string, got {value!r}")
        return value

    def seconds(self, value: Any, path: str) -> float:
        """A duration; a compound one (``9m40s``, as failures print times) too."""
        if isinstance(value, str) and _COMPOUND.fullmatch(value.strip()):
            return sum(durations.parse_duration(p) for p in _PART.findall(value))
        try:
            return durations.parse_duration(value)
        except ValueError as exc:
            raise self.fail(path, f"{exc} (or 9m40s)") from None


def load_test_file(path: str | Path) -> TestFile:
    """Read and check a test file; raises PolicyError naming the file, line and key."""
    try:
        doc = read_yaml_document(path, "policy test file")
    except FileFormatError as exc:
        raise PolicyError(exc.file, exc.key, exc.detail, exc.line) from None
    r = _Reader(doc.source, doc.line_of)
    top = r.mapping(doc.data if doc.data is not None else {}, "", TOP_KEYS)
    policy = top.get("policy")
    if policy is not None:
        policy = str(Path(doc.source).parent / r.text(top, "policy", ""))
    interval = r.seconds(top.get("interval", 10), "interval")
    tick = r.seconds(top.get("tick", min(interval, 5.0) or 5.0), "tick")
    if interval <= 0 or tick <= 0:
        raise r.fail("interval", "expected an interval and a tick above 0 s")
    tests = top.get("tests")
    if not isinstance(tests, list) or not tests:
        raise r.fail("tests", "expected a list of tests")
    cases = [_case(r, raw, f"tests[{i}]") for i, raw in enumerate(tests)]
    return TestFile(doc.source, policy, interval, tick, cases)


def _case(r: _Reader, raw: Any, path: str) -> Case:
    spec = r.mapping(raw, path, TEST_KEYS)
    hosts: dict[str, tuple[str, tuple[str, ...]]] = {}
    raw_hosts = spec.get("hosts") or {}
    if not isinstance(raw_hosts, dict):
        raise r.fail(f"{path}.hosts", "expected a mapping of host name to {os, tags}")
    for name, attrs in raw_hosts.items():
        a = r.mapping(attrs or {}, f"{path}.hosts.{name}", {"os", "tags"})
        tags = a.get("tags", [])
        if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
            raise r.fail(f"{path}.hosts.{name}.tags", "expected a list of tags")
        hosts[str(name)] = (r.text(a, "os", f"{path}.hosts.{name}", "linux"), tuple(tags))
    series = []
    raw_series = spec.get("series")
    if not isinstance(raw_series, list) or not raw_series:
        raise r.fail(f"{path}.series", "expected a list of input series")
    for i, s in enumerate(raw_series):
        sp = f"{path}.series[{i}]"
        s = r.mapping(s, sp, SERIES_KEYS)
        try:
            values = expand(s.get("values"))
        except ValueError as exc:
            raise r.fail(f"{sp}.values", str(exc)) from None
        host = r.text(s, "host", sp)
        hosts.setdefault(host, ("linux", ()))
        series.append(Series(host, r.text(s, "item", sp), r.text(s, "instance", sp, ""), values))
    expect = []
    for i, e in enumerate(spec.get("expect") or []):
        ep = f"{path}.expect[{i}]"
        e = r.mapping(e, ep, EXPECT_KEYS)
        transition = r.text(e, "transition", ep)
        if transition not in TRANSITIONS:
            raise r.fail(f"{ep}.transition", f"expected one of {', '.join(TRANSITIONS)}")
        try:
            severity = int(Severity.parse(r.text(e, "severity", ep)))
        except ValueError as exc:
            raise r.fail(f"{ep}.severity", str(exc)) from None
        expect.append(Transition(
            r.seconds(e.get("at"), f"{ep}.at"), r.text(e, "host", ep), r.text(e, "watch", ep),
            transition, severity, e.get("instance"), e.get("item"),
        ))  # fmt: skip
    run_for = r.seconds(spec.get("run_for", 0), f"{path}.run_for")
    return Case(r.text(spec, "name", path), hosts, series, expect, run_for)


def seen(event: SeverityEvent) -> Transition:
    """An engine event as a transition of the test's timeline."""
    return Transition(round(event.ts - T0, 3), event.host, event.watch, event.transition,
                      int(event.severity), event.instance, event.item)  # fmt: skip
