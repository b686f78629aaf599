"""Who hears how a problem ended, and maintenance on every path that sends (issue 9, 8-10).

The notifier keeps, per problem, the contacts that were told; de-escalations and
recoveries go to exactly those, maintenance suppresses every kind of message,
and a recovery it holds back for a told contact goes out when the window ends.
The clock starts at 2027-01-15 08:00 UTC (a Friday).
"""

from __future__ import annotations

from typing import Any

from gamsi.notifier.channels import PermanentError

from .conftest import Harness, event

MINUTE = 60.0
T = 1_800_000_000.0  # 2027-01-15T08:00:00Z

MAINTENANCE = """
channels: {slack: {type: console}, mail: {type: console}}
recipients:
  ops: {contacts: [{channel: slack, to: "#ops"}]}
  boss: {contacts: [{channel: mail, to: boss@example.com}]}
routes:
  - name: db
    recipients: [ops]
    renotify_every: 10m
    escalate: [{after: 30m, recipients: [boss]}]
maintenance:
  - {name: db-1 disk swap, hosts: [db-1], start: "2027-01-15T08:15:00Z",
     end: "2027-01-15T10:00:00Z"}
"""


def kinds(h: Harness, channel: str) -> list[str]:
    return [m.kind for m in h.sent(channel)]


async def run_until(h: Harness, minutes: float, step: float = MINUTE) -> None:
    while h.clock.now < T + minutes * MINUTE:
        await h.advance(step)


async def test_no_renotification_or_escalation_inside_maintenance() -> None:
    h = Harness(MAINTENANCE)
    await h.push(event("db-1"))
    await run_until(h, 14)
    assert kinds(h, "slack") == ["raise", "renotify"]  # +10 min, before the window
    await run_until(h, 119)  # +20, +30 (and the escalation), +40, +50 … are inside it
    assert kinds(h, "slack") == ["raise", "renotify"]
    assert kinds(h, "mail") == []
    suppressed = [r for r in h.sink.records if r["result"] == "suppressed"]
    assert {r["transition"] for r in suppressed} == {"renotify", "escalation"}
    assert len(suppressed) == len({(r["transition"], r["channel"], r["ts"]) for r in suppressed})
    await run_until(h, 121)  # the window ended at +120: still open, still unacknowledged
    assert kinds(h, "slack") == ["raise", "renotify", "renotify"]
    assert kinds(h, "mail") == ["escalation", "renotify"]


async def test_a_recovery_is_not_sent_to_whom_maintenance_kept_the_raise_from() -> None:
    h = Harness(MAINTENANCE.replace("renotify_every: 10m", "renotify_every: 0"))
    h.clock.now = T + 20 * MINUTE  # inside the window
    await h.push(event("db-1"))
    assert h.sent("slack") == []
    h.clock.now = T + 150 * MINUTE  # after it
    await h.push(event("db-1", "recover"))
    await h.advance(MINUTE)
    assert kinds(h, "slack") == []
    assert [r["result"] for r in h.sink.records] == ["suppressed"]


SMS_HOURS = """
channels: {slack: {type: console}, sms: {type: console}}
recipients:
  alice:
    contacts:
      - {channel: slack, to: "@alice"}
      - {channel: sms, to: "+8210", hours: "09:00-18:00"}
routes: [{name: all, recipients: [alice]}]
"""


async def test_no_recovery_by_sms_for_a_raise_before_office_hours() -> None:
    h = Harness(SMS_HOURS)
    await h.push(event("web-1"))  # 08:00: the SMS contact is off duty
    h.clock.now = T + 2 * 3600  # 10:00: on duty, but it never heard of the problem
    await h.push(event("web-1", "recover"))
    assert kinds(h, "sms") == []
    assert kinds(h, "slack") == ["raise", "recover"]


async def test_recovery_held_by_maintenance_is_delivered_when_it_ends() -> None:
    routing = MAINTENANCE.replace('start: "2027-01-15T08:15:00Z"', 'start: "2027-01-15T08:10:00Z"')
    routing = routing.replace('end: "2027-01-15T10:00:00Z"', 'end: "2027-01-15T08:30:00Z"')
    h = Harness(routing)
    await h.push(event("db-1"))  # sent at T
    h.clock.now = T + 15 * MINUTE
    await h.push(event("db-1", "recover"))  # inside the window: held
    assert kinds(h, "slack") == ["raise"]
    await run_until(h, 29)
    assert kinds(h, "slack") == ["raise"]
    await run_until(h, 30)
    assert kinds(h, "slack") == ["raise", "recover"]
    recovery = h.sent("slack")[-1]
    assert recovery.thread_ref == "ts-1"  # in the thread of the raise
    assert h.clock.now == T + 30 * MINUTE
    await run_until(h, 60)
    assert kinds(h, "slack") == ["raise", "recover"]  # once


async def test_a_held_recovery_survives_a_restart() -> None:
    routing = MAINTENANCE.replace('start: "2027-01-15T08:15:00Z"', 'start: "2027-01-15T08:10:00Z"')
    h = Harness(routing)
    await h.push(event("db-1"))
    h.clock.now = T + 15 * MINUTE
    await h.push(event("db-1", "recover"))
    h.pipeline = h.build()  # a restarted notifier reads the held recovery from the ledger
    await run_until(h, 121)
    assert kinds(h, "slack") == ["raise", "recover"]


SEVERITIES = """
channels: {slack: {type: console}, sms: {type: console}}
recipients:
  ops:
    contacts:
      - {channel: slack, to: "#ops", severities: [caution]}
      - {channel: sms, to: "+8210", severities: [urgent, fatal]}
routes:
  - {name: loud, match: {min_severity: urgent}, recipients: [ops]}
"""


async def test_deescalation_and_recovery_reach_the_told_whatever_their_filters() -> None:
    h = Harness(SEVERITIES)
    await h.push(event("db-1", severity=4))
    assert kinds(h, "sms") == ["raise"]
    assert kinds(h, "slack") == []  # takes caution only
    down = event("db-1", "deescalate", severity=3, eid="down")
    await h.push(down)  # CAUTION: the route no longer matches, the SMS filter says no
    assert kinds(h, "sms") == ["raise", "deescalate"]
    assert kinds(h, "slack") == []  # it never heard of the problem
    recovered = event("db-1", "recover", severity=3)
    await h.push(recovered)
    assert kinds(h, "sms") == ["raise", "deescalate", "recover"]
    assert kinds(h, "slack") == []


async def test_who_was_told_survives_a_restart() -> None:
    h = Harness(SMS_HOURS)
    await h.push(event("web-1"))
    h.pipeline = h.build()
    h.clock.now = T + 2 * 3600
    await h.push(event("web-1", "recover"))
    assert kinds(h, "sms") == []
    assert kinds(h, "slack") == ["raise", "recover"]


async def test_a_contact_whose_raise_failed_for_good_gets_no_recovery() -> None:
    h = Harness(SMS_HOURS)
    h.clock.now = T + 2 * 3600
    h.channels["sms"].failures = [PermanentError("sms: HTTP 400 invalid number")]
    await h.push(event("web-1"))
    await h.push(event("web-1", "recover"))
    assert kinds(h, "sms") == []
    assert kinds(h, "slack") == ["raise", "recover"]


async def test_a_renotification_tells_a_contact_that_missed_the_raise() -> None:
    every_2h = "recipients: [alice], renotify_every: 2h}"
    h = Harness(SMS_HOURS.replace("recipients: [alice]}", every_2h))
    await h.push(event("web-1"))  # 08:00: SMS off duty
    await h.advance(2 * 3600)  # 10:00: still active, the SMS contact hears it now
    assert kinds(h, "sms") == ["renotify"]
    await h.push(event("web-1", "recover"))
    assert kinds(h, "sms") == ["renotify", "recover"]


async def test_a_recovery_for_a_problem_never_seen_goes_to_nobody(harness: Harness) -> None:
    await harness.push(event("web-9", "recover"))
    assert harness.sent("slack") == []


async def test_no_recovery_after_a_raise_that_was_still_on_its_way_and_failed() -> None:
    h = Harness(SMS_HOURS, storm_window=5.0)
    h.clock.now = T + 2 * 3600  # 10:00: both contacts on duty
    h.channels["sms"].failures = [PermanentError("sms: HTTP 400 invalid number")]
    h.pipeline.accept(event("web-1"), ("p", 0), h.clock.now)
    h.clock.now += 1
    h.pipeline.accept(event("web-1", "recover"), ("p", 1), h.clock.now)  # the raise waits
    for _ in range(12):
        await h.advance(1)
    assert kinds(h, "sms") == []
    assert kinds(h, "slack") == ["raise", "recover"]


async def test_a_restart_forgets_contacts_whose_message_was_still_on_its_way() -> None:
    h = Harness(SMS_HOURS, storm_window=5.0)
    h.clock.now = T + 2 * 3600
    h.pipeline.accept(event("web-1"), ("p", 0), h.clock.now)
    await h.pipeline.flush(h.clock.now)  # the ledger has the problem, nothing was sent
    h.pipeline = h.build(storm_window=5.0)  # the offset was not committed, but no replay here
    await h.push(event("web-1", "recover"))
    assert kinds(h, "sms") == []
    assert kinds(h, "slack") == []


def failed_run(at: float) -> Any:
    """The remediator's row of a recovery script that failed on db-1 at ``at``."""
    from gamsi.remediator import records as R
    from gamsi.remediator.records import Remediation

    return Remediation(
        ts=at, status=R.FAILED, host="db-1", script="restart-db", command_id="c1",
        incident=f"db-1|cpu-high|cpu.util||{T - 5:.3f}", attempt=1, watch="cpu-high",
        item="cpu.util", exit_code=1, duration_s=2.0, output="boom\n",
    )  # fmt: skip


async def test_a_failed_recovery_script_does_not_page_inside_maintenance() -> None:
    h = Harness(MAINTENANCE)
    await h.push(event("db-1", ts=h.clock.now))
    h.clock.now = T + 20 * MINUTE  # inside the window
    assert h.pipeline.remediation(failed_run(h.clock.now), h.clock.now) == 0
    await h.advance(1)
    assert kinds(h, "slack") == ["raise"]
    assert [r["result"] for r in h.sink.records if r["transition"] == "remediation"] == [
        "suppressed"
    ]


async def test_a_problem_saved_before_the_told_set_is_routed_as_before() -> None:
    h = Harness(SMS_HOURS)
    h.clock.now = T + 2 * 3600
    await h.push(event("web-1"))
    (key,) = [k for k, _ in h.ledger.items("problem:")]
    legacy = dict(h.ledger.data[key])
    for field in ("told", "ack_comment", "muted"):
        del legacy[field]  # what the notifier before this change wrote
    h.ledger.data[key] = legacy
    h.pipeline = h.build()
    await h.push(event("web-1", "recover"))
    assert kinds(h, "slack") == ["raise", "recover"]
    assert kinds(h, "sms") == ["raise", "recover"]
