"""Timeline tests of the remediator's decisions: events and results at t, rows expected at t.

Each test drives the pure Decider with events, agent results and ticks at given
seconds and checks which rows (and commands) come out, like Alertmanager's acceptance
tests read ``Push(At(1), ...)`` then ``Want(...)``.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from gamsi.remediator import records as R
from gamsi.remediator.config import RemediatorSettings
from gamsi.remediator.decide import Decider, Output
from gamsi.remediator.records import Remediation
from gamsi.schemas.records import Severity, SeverityEvent
from gamsi.streams.policy.remediate import Binding

URGENT, FATAL, CAUTION = Severity.URGENT, Severity.FATAL, Severity.CAUTION
RESTART = Binding("restart-nginx", (URGENT, FATAL), ("${instance}",), cooldown=60, max_attempts=3)


def event(
    t: float, sev: int = URGENT, host: str = "web-1", since: float = 0.0, **kw
) -> SeverityEvent:
    transition = kw.pop("transition", "recover" if sev == 0 else "raise")
    return SeverityEvent(
        event_id=f"e{t}",
        host=host,
        item="http.up",
        instance=kw.pop("instance", "nginx"),
        watch="nginx-up",
        severity=sev,
        previous=0,
        transition=transition,
        value=0.0,
        threshold=1.0,
        ts=t,
        since=since or (0.0 if sev == 0 else 1.0),
        **kw,
    )


class World:
    """A decider with a fixed binding table and an optional maintenance window."""

    def __init__(self, bindings: tuple[Binding, ...] = (RESTART,), **limits) -> None:
        self.bindings = bindings
        self.window: tuple[float, float] | None = None
        self.decider = Decider(
            replace(RemediatorSettings(), **limits), lambda e: self.bindings, self.muted, "test"
        )

    def muted(self, e: SeverityEvent, now: float) -> str | None:
        if self.window and self.window[0] <= now < self.window[1]:
            return "maintenance patching"
        return None

    def result(self, command: R.Command, t: float, status: str = R.OK, code: int = 0) -> Output:
        row = Remediation.about(command, status, t, exit_code=code, duration_s=2.1)
        return self.decider.on_result(row, t)


def statuses(out: Output) -> list[tuple[str, str]]:
    return [(row.status, row.reason.split(":")[0]) for row, _ in out]


def issued(out: Output) -> list[R.Command]:
    return [c for _, c in out if c is not None]


def test_raise_issues_one_signed_ready_command_with_rendered_args() -> None:
    w = World()
    out = w.decider.on_event(event(1), now=1)
    (cmd,) = issued(out)
    assert cmd.host == "web-1"
    assert cmd.script == "restart-nginx"
    assert cmd.args == ["nginx"]
    assert cmd.attempt == 1
    assert cmd.expires_at == 1 + RemediatorSettings().command_ttl
    assert statuses(out) == [(R.ISSUED, "")]
    # the same event again (a redelivery) issues nothing more
    assert w.decider.on_event(event(1), now=1.5) == []


def test_severity_outside_on_is_recorded_as_no_binding_once() -> None:
    w = World()
    assert statuses(w.decider.on_event(event(1, CAUTION), 1)) == [
        (R.SKIPPED, "no binding for caution")
    ]
    assert w.decider.on_event(event(2, CAUTION), 2) == []
    assert w.decider.tick(3) == []


def test_failed_run_is_retried_after_cooldown_then_stopped_at_the_cap() -> None:
    w = World()
    cmd = issued(w.decider.on_event(event(0), 0))[0]
    w.result(cmd, 5, R.FAILED, 1)
    assert statuses(w.decider.tick(10)) == [(R.SKIPPED, "cooldown")]  # 60 s after t=0
    assert w.decider.tick(30) == []  # recorded once per attempt
    out = w.decider.tick(60)
    (second,) = issued(out)
    assert second.attempt == 2
    assert second.command_id != cmd.command_id
    w.result(second, 62, R.TIMED_OUT, -1)
    (third,) = issued(w.decider.tick(120))
    w.result(third, 121, R.FAILED, 1)
    out = w.decider.tick(180)
    assert statuses(out) == [(R.STOPPED, "cap")]
    row = out[0][0]
    assert row.exit_code == 1
    assert row.attempt == 3
    assert w.decider.tick(999) == []


def test_restart_loop_guard_stops_across_incidents() -> None:
    """Monit: 'if 3 restarts within 5 cycles then unmonitor'. Each incident recovers after
    its run, so the per-incident cap never bites; the loop guard does."""
    w = World(loop_runs=3, loop_window=600)
    fast = (replace(RESTART, cooldown=0),)
    w.bindings = fast
    t = 0.0
    for _ in range(3):
        (cmd,) = issued(w.decider.on_event(event(t, since=t + 0.5), t))
        w.result(cmd, t + 2)
        assert statuses(w.decider.on_event(event(t + 5, 0), t + 5)) == [
            (R.RECOVERED, "recovered after restart-nginx")
        ]
        t += 10
    out = w.decider.on_event(event(t, since=t + 0.5), t)
    assert statuses(out) == [(R.STOPPED, "loop guard")]
    assert not issued(out)
    # once the window has passed, runs may go again
    later = 700 + t
    w.decider.on_event(event(later, 0), later)
    assert issued(w.decider.on_event(event(later + 1, since=later + 1), later + 1))


def test_maintenance_skips_and_the_command_goes_out_when_the_window_ends() -> None:
    w = World()
    w.window = (0, 100)
    out = w.decider.on_event(event(1), 1)
    assert statuses(out) == [(R.SKIPPED, "maintenance patching")]
    assert not issued(out)
    assert w.decider.tick(50) == []
    (cmd,) = issued(w.decider.tick(100))
    assert cmd.attempt == 1


def test_dry_run_records_what_would_run_and_never_issues() -> None:
    for w in (World(dry_run=True), World(bindings=(replace(RESTART, dry_run=True),))):
        out = w.decider.on_event(event(1), 1)
        assert statuses(out) == [
            (R.DRY_RUN, "global dry_run" if w.decider.limits.dry_run else "binding dry_run")
        ]
        assert out[0][0].args == ["nginx"]
        assert not issued(out)
        assert w.decider.tick(1000) == []


def test_concurrency_per_host_and_overall() -> None:
    w = World(max_per_host=1, max_running=2)
    two = (RESTART, replace(RESTART, script="clear-cache"))
    w.bindings = two
    out = w.decider.on_event(event(1), 1)
    assert [c.script for c in issued(out)] == ["restart-nginx"]
    assert (R.SKIPPED, "concurrency") in statuses(out)
    w.bindings = (RESTART,)
    w.decider.on_event(event(1, host="web-2"), 1)
    out = w.decider.on_event(event(1, host="web-3"), 1)
    assert statuses(out) == [(R.SKIPPED, "concurrency")]
    assert "2 in flight in total" in out[0][0].reason


def test_unsafe_values_never_become_a_command() -> None:
    w = World()
    for i, bad in enumerate(["a\nb", "nul\x00", "esc\x1b[2J"]):
        out = w.decider.on_event(event(1, host=f"h{i}", instance=bad), 1)
        assert statuses(out) == [(R.STOPPED, "unsafe value")]
        assert not issued(out)
    # metacharacters are literal: one argv element each, no shell anywhere
    (cmd,) = issued(w.decider.on_event(event(1, host="h9", instance="x; rm -rf / $(id)"), 1))
    assert cmd.args == ["x; rm -rf / $(id)"]


def test_success_waits_for_recovery_and_escalates_when_it_does_not_come() -> None:
    w = World(recovery_wait=30)
    cmd = issued(w.decider.on_event(event(0), 0))[0]
    w.result(cmd, 2)
    assert w.decider.tick(20) == []
    out = w.decider.tick(32)
    assert statuses(out)[0] == (R.NOT_RECOVERED, "not normal 30 s after restart-nginx")
    assert "exit 0 in 2.1 s" in out[0][0].reason


def test_lost_command_is_recorded_and_the_next_attempt_follows() -> None:
    w = World(command_ttl=10)
    cmd = issued(w.decider.on_event(event(0), 0))[0]
    assert w.decider.tick(10 + cmd.timeout + 4) == []  # expiry + timeout + grace not yet
    out = w.decider.tick(61)  # lost, and past the 60 s cooldown
    assert statuses(out)[0] == (R.LOST, "no result from the agent by the command's deadline")
    assert [c.attempt for c in issued(out)] == [2]


@pytest.mark.parametrize("cut", range(1, 6))
def test_replayed_rows_never_issue_an_attempt_twice(cut: int) -> None:
    """A restarted remediator rebuilds from its rows; re-reading the events issues nothing
    already issued, whatever the point the first one died at."""
    first, rows = World(), []
    timeline = [
        event(0),
        event(0, host="web-2"),
        event(3, FATAL, transition="escalate"),
        event(5, host="web-3"),
    ]
    for e in timeline[:cut]:
        rows += [row for row, _ in first.decider.on_event(e, e.ts)]
    second = World()
    for row in rows:
        second.decider.replay(row)
    again = [c for e in timeline for c in issued(second.decider.on_event(e, e.ts))]
    before = {(r.incident, r.attempt) for r in rows if r.status == R.ISSUED}
    assert not {(c.incident, c.attempt) for c in again} & before


def test_a_watch_without_bindings_leaves_no_row_and_no_state() -> None:
    """Every problem of the fleet passes by; only watches with scripts are remembered."""
    w = World(bindings=())
    assert w.decider.on_event(event(1), 1) == []
    assert w.decider.tick(2) == []
    assert w.decider.incidents == {}
    assert w.decider.on_event(event(3, 0), 3) == []
