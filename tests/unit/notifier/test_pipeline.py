"""The notifier's chain in memory: storm grouping, maintenance, dedup, threads, recovery."""

from __future__ import annotations

from gamsi.notifier.channels import PermanentError, RetryableError

from .conftest import SIMPLE, Harness, event


async def test_storm_of_200_hosts_is_one_message_listing_them() -> None:
    h = Harness(SIMPLE, storm_window=5.0)
    hosts = [f"web-{i:03d}" for i in range(200)]
    for i, host in enumerate(hosts):
        h.clock.now += 0.02  # 200 events over 4 s, inside the 5 s window
        h.pipeline.accept(event(host), ("p", i), h.clock.now)
        assert await h.pipeline.flush(h.clock.now) == []
    h.clock.now += 1.1  # the window (opened by the first event) has closed
    done = await h.pipeline.flush(h.clock.now)
    (message,) = h.sent("slack")
    assert sorted(e.host for e in message.events) == hosts
    assert all(host in message.text() for host in hosts)
    assert "200 events on 200 hosts" in message.headline()
    assert len(done) == 200
    assert [r["result"] for r in h.sink.records] == ["sent"] * 200


async def test_storm_recovery_goes_to_the_thread_of_the_grouped_raise() -> None:
    h = Harness(SIMPLE, storm_window=5.0)
    hosts = [f"db-{i}" for i in range(20)]
    await h.push(*(event(x) for x in hosts), flush=False)
    await h.advance(6)
    await h.push(*(event(x, "recover") for x in hosts), flush=False)
    await h.advance(6)
    _raised, recovered = h.sent("slack")
    assert recovered.thread_ref == "ts-1"
    assert recovered.kind == "recover"
    assert len(recovered.events) == 20


async def test_events_outside_the_window_are_separate_messages() -> None:
    h = Harness(SIMPLE, storm_window=1.0)
    await h.push(event("a"), flush=False)
    await h.advance(2)
    await h.push(event("b"), flush=False)
    await h.advance(2)
    assert [[e.host for e in m.events] for m in h.sent("slack")] == [["a"], ["b"]]


async def test_a_replayed_event_is_not_sent_twice(harness: Harness) -> None:
    e = event("web-1")
    await harness.push(e)
    await harness.push(e)  # the consumer saw it again after a restart
    assert len(harness.sent("slack")) == 1
    assert [r for _, _, r in harness.results()] == ["sent", "deduplicated"]


async def test_ledger_survives_a_new_pipeline(harness: Harness) -> None:
    await harness.push(event("web-1"))
    harness.pipeline = harness.build()  # a restarted notifier loads the same ledger
    await harness.push(event("web-1"), event("web-1", "recover"))
    first, recovery = harness.sent("slack")
    assert recovery.thread_ref == "ts-1"
    assert first.kind == "raise"


async def test_recovery_in_thread_then_a_new_problem_starts_a_new_thread(harness: Harness) -> None:
    await harness.push(event("web-1"))
    await harness.push(event("web-1", "recover"))
    await harness.push(event("web-1", eid="second-raise"))
    _raise1, recovery, raise2 = harness.sent("slack")
    assert recovery.thread_ref == "ts-1"
    assert "recovered" in recovery.text()
    assert raise2.thread_ref == ""


MAINTENANCE = """
channels: {slack: {type: console}}
recipients: {ops: {contacts: [{channel: slack}]}}
routes: [{name: all, recipients: [ops]}]
maintenance:
  - {name: patch night, tags: [patch-a], days: all, hours: "00:00-24:00"}
  - {name: disk swap, hosts: ["db-*"], start: "2027-01-15T08:00:00+00:00",
     end: "2027-01-15T10:00:00+00:00"}
"""


async def test_maintenance_suppresses_and_records() -> None:
    h = Harness(MAINTENANCE)
    swap_time = 1_800_000_000.0  # 2027-01-15T08:00Z
    h.clock.now = swap_time + 60
    await h.push(event("web-1", tags=["patch-a"]), event("db-7"), event("web-2"))
    assert [[e.host for e in m.events] for m in h.sent("slack")] == [["web-2"]]
    suppressed = [r for r in h.sink.records if r["result"] == "suppressed"]
    assert {(r["host"], r["error"]) for r in suppressed} == {
        ("web-1", "maintenance patch night"),
        ("db-7", "maintenance disk swap"),
    }
    h.clock.now = swap_time + 3 * 3600  # the one-off window is over
    await h.push(event("db-7", eid="later"))
    assert h.sent("slack")[-1].events[0].host == "db-7"


ROUTED = """
defaults: {timezone: Asia/Seoul}
channels: {slack: {type: console}, sms: {type: console}, mail: {type: console}}
recipients:
  alice:
    contacts:
      - {channel: slack, to: "@alice"}
      - {channel: sms, to: "+8210", days: mon-fri, hours: "09:00-18:00",
         severities: [urgent, fatal]}
  boss: {contacts: [{channel: mail, to: boss@example.com}]}
  team: {members: [alice], contacts: [{channel: slack, to: "#ops"}]}
routes:
  - name: db
    match: {min_severity: danger, tags: [db]}
    recipients: [team, boss]
    notify_recovery: false
    stop: true
  - name: web
    match: {min_severity: caution, hosts: ["web-*"]}
    recipients: [alice]
"""

MONDAY_OFFICE = 1_796_000_400.0  # 2026-11-30 (Monday) 10:00 in Seoul
SATURDAY = MONDAY_OFFICE + 5 * 86400


async def test_routes_contacts_and_schedules() -> None:
    h = Harness(ROUTED)
    h.clock.now = MONDAY_OFFICE
    await h.push(event("db-1", tags=["db"], severity=4))
    assert [m.address for m in h.sent("slack")] == ["#ops", "@alice"]
    assert [m.address for m in h.sent("sms")] == ["+8210"]
    assert [m.address for m in h.sent("mail")] == ["boss@example.com"]
    h.clock.now = SATURDAY
    await h.push(event("web-1", severity=4))
    assert len(h.sent("sms")) == 1  # not on Saturday
    await h.push(event("web-2", severity=2))
    assert [m.events[0].host for m in h.sent("slack")][-2:] == ["web-1", "web-2"]
    await h.push(event("db-1", "recover", tags=["db"]))
    assert len(h.sent("mail")) == 1  # the db route switched recovery notices off


async def test_min_severity_filters_and_recovery_uses_previous_level() -> None:
    h = Harness(ROUTED)
    await h.push(event("web-1", severity=1))  # harmless < caution
    assert h.sent("slack") == []
    await h.push(event("web-1", severity=3, eid="r"), event("web-1", "recover", severity=3))
    assert [m.kind for m in h.sent("slack")] == ["raise", "recover"]


async def test_retryable_failures_are_retried_then_logged(harness: Harness) -> None:
    channel = harness.channels["slack"]
    channel.failures = [RetryableError("slack: HTTP 503"), RetryableError("429", retry_after=30)]
    await harness.push(event("web-1"))
    assert len(channel.sent) == 1
    assert harness.clock.slept == [1.0, 30.0]
    assert harness.sink.records[0]["attempts"] == 3


async def test_permanent_failure_is_logged_once_and_not_retried(harness: Harness) -> None:
    channel = harness.channels["slack"]
    channel.failures = [PermanentError("slack chat.postMessage channel_not_found")]
    done = await harness.push(event("web-1"))
    assert channel.sent == []
    record = harness.sink.records[0]
    assert (record["result"], record["attempts"]) == ("failed", 1)
    assert "channel_not_found" in record["error"]
    assert done == [("p", 0)]  # the offset moves on: a failure is an outcome, not a stall
    await harness.push(event("web-1"))
    assert channel.sent == []


async def test_offsets_finish_only_when_every_target_went_out() -> None:
    h = Harness(ROUTED, storm_window=10.0)
    h.clock.now = MONDAY_OFFICE
    assert await h.push(event("db-1", tags=["db"])) == []
    assert await h.advance(11) == [("p", 0)]
    assert await h.push(event("nothing-routes-here", severity=1)) == [("p", 0)]
