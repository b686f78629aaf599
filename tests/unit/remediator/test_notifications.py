"""Recovery scripts in the notifier's messages (notifier/remediation.py), in memory.

The recovery notice names the script and its result; a failed or timed-out run, or a
stop at the attempt cap, escalates the open problem in its thread, once, whatever
how many times the row is read.
"""

from __future__ import annotations

from gamsi.remediator import records as R
from gamsi.remediator.records import Remediation
from tests.unit.notifier.conftest import SIMPLE, Harness, event


def row(status: str, ts: float, **kw: object) -> Remediation:
    fields: dict[str, object] = {
        "ts": ts,
        "status": status,
        "host": "web-1",
        "script": "restart-nginx",
        "command_id": "c1",
        "incident": f"web-1|cpu-high|cpu.util||{ts - 5:.3f}",
        "attempt": 1,
        "watch": "cpu-high",
        "item": "cpu.util",
        "exit_code": 0,
        "duration_s": 2.1,
    }
    return Remediation(**{**fields, **kw})  # type: ignore[arg-type]


async def test_the_recovery_notice_names_the_script_and_its_result() -> None:
    h = Harness(SIMPLE)
    await h.push(event("web-1", ts=h.clock.now))
    assert h.pipeline.remediation(row(R.OK, h.clock.now + 3), h.clock.now + 3) == 0
    h.clock.now += 10
    await h.push(event("web-1", "recover", ts=h.clock.now))
    raised, recovered = h.sent("slack")
    assert "restart-nginx" not in raised.headline()
    assert recovered.headline().endswith("recovered after restart-nginx: exit 0 in 2.1 s")
    assert recovered.thread_ref  # in the problem's thread


async def test_a_result_of_an_earlier_incident_is_not_named() -> None:
    h = Harness(SIMPLE)
    earlier = row(R.OK, h.clock.now - 7200, host="db-1")  # its recovery row never came
    h.pipeline.remediation(earlier, h.clock.now - 7200)
    await h.push(event("db-1", ts=h.clock.now))
    h.clock.now += 10
    await h.push(event("db-1", "recover", ts=h.clock.now))
    assert "after" not in h.sent("slack")[-1].headline()


async def test_a_failed_run_escalates_once_with_its_output() -> None:
    h = Harness(SIMPLE)
    await h.push(event("web-1", ts=h.clock.now))
    failed = row(R.FAILED, h.clock.now + 1, exit_code=1, output="nginx: [emerg] bad config\n")
    assert h.pipeline.remediation(failed, h.clock.now + 1) == 1
    await h.pipeline.flush(h.clock.now + 1)
    # the same row read again (a notifier restart re-reads the topic): nothing more
    assert h.pipeline.remediation(failed, h.clock.now + 2) == 0
    escalation = h.sent("slack")[-1]
    assert len(h.sent("slack")) == 2
    assert escalation.kind == "escalation"
    assert escalation.thread_ref
    assert "recovery script restart-nginx: exit 1 in 2.1 s" in escalation.headline()
    assert "bad config" in escalation.headline()


async def test_a_stop_at_the_cap_and_a_timeout_each_escalate() -> None:
    h = Harness(SIMPLE)
    await h.push(event("web-1", ts=h.clock.now))
    timed_out = row(R.TIMED_OUT, h.clock.now + 1, exit_code=-1, duration_s=30.0)
    stopped = row(R.STOPPED, h.clock.now + 2, command_id="", reason="cap: 3 attempts made")
    assert h.pipeline.remediation(timed_out, h.clock.now + 1) == 1
    assert h.pipeline.remediation(stopped, h.clock.now + 2) == 1
    await h.pipeline.flush(h.clock.now + 2)
    lines = [n.text() for n in h.sent("slack")[1:]]
    assert any("timed out after 30.0 s" in line for line in lines)
    assert any("stopped (cap: 3 attempts made)" in line for line in lines)


async def test_skips_and_issued_rows_tell_nobody() -> None:
    h = Harness(SIMPLE)
    await h.push(event("web-1", ts=h.clock.now))
    for status in (R.ISSUED, R.SKIPPED, R.DRY_RUN):
        assert h.pipeline.remediation(row(status, h.clock.now), h.clock.now) == 0
    assert len(h.sent("slack")) == 1
