"""One problem occurrence, one raise … recover (issue 9 items 12 and 13, the notifier's side).

A recovery closes exactly the problem it names; an acknowledgement belongs to the
occurrence it was given for and never carries over to the next one; it can be
withdrawn.
"""

from __future__ import annotations

from dataclasses import replace

from gamsi.notifier.ack import ack_record, parse_ack
from gamsi.schemas.records import SeverityEvent

from .conftest import Harness, event

MINUTE = 60.0

ROUTING = """
channels: {hook: {type: console}, mail: {type: console}}
recipients:
  ops: {contacts: [{channel: hook, to: ops}]}
  boss: {contacts: [{channel: mail, to: boss@example.com}]}
routes:
  - name: all
    recipients: [ops]
    renotify_every: 10m
    escalate: [{after: 15m, recipients: [boss]}]
"""


def raised(watch: str, eid: str, severity: int = 3) -> SeverityEvent:
    return replace(event("web-1", severity=severity, eid=eid), watch=watch)


def policy_recovery(watch: str, item: str = "cpu.util") -> SeverityEvent:
    """What the stream worker emits when a policy change removes a raised watch."""
    e = replace(event("web-1", "recover", severity=4, eid=f"{watch}-gone"), watch=watch)
    return replace(e, item=item, value=0.0, threshold=0.0)


def kinds(h: Harness, channel: str = "hook") -> list[str]:
    return [m.kind for m in h.sent(channel)]


async def test_a_policy_recovery_closes_exactly_its_problem() -> None:
    h = Harness(ROUTING)
    await h.push(raised("cpu-spike", "spike-1", 4), raised("cpu-busy", "busy-1", 3))
    await h.push(policy_recovery("cpu-spike"))
    assert sorted(p.event.watch for p in h.pipeline.book.problems.values()) == ["cpu-busy"]
    await h.advance(10 * MINUTE + 1)  # only cpu-busy is still active
    renotified = [m for m in h.sent("hook") if m.kind == "renotify"]
    assert [m.events[0].watch for m in renotified] == ["cpu-busy"]
    await h.push(raised("cpu-spike", "spike-2", 4))  # a new occurrence, a new thread
    assert h.sent("hook")[-1].kind == "raise"
    assert h.sent("hook")[-1].thread_ref == ""
    assert h.pipeline.book.problems[h.pipeline.book.open_with("spike-2").key].event_ids == [
        "spike-2"
    ]


async def test_a_recovery_without_its_item_closes_the_one_problem_it_can_mean() -> None:
    h = Harness(ROUTING)
    await h.push(raised("cpu-spike", "spike-1", 4))
    await h.push(policy_recovery("cpu-spike", item=""))  # from a worker before the fix
    assert h.pipeline.book.problems == {}
    recovery = h.sent("hook")[-1]
    assert (recovery.kind, recovery.thread_ref, recovery.events[0].item) == (
        "recover",
        "ts-1",
        "cpu.util",
    )
    await h.advance(60 * MINUTE)
    assert kinds(h) == ["raise", "recover"]


async def test_an_ack_does_not_carry_over_to_the_next_occurrence() -> None:
    h = Harness(ROUTING)
    await h.push(raised("cpu-busy", "busy-1"))
    assert h.ack("busy-1", "alice")
    await h.push(policy_recovery("cpu-busy"))
    await h.push(raised("cpu-busy", "busy-2"))  # cpu-busy raises again later
    problem = h.pipeline.book.open_with("busy-2")
    assert problem is not None
    assert problem.acked_by == ""
    await h.advance(16 * MINUTE)
    assert "renotify" in kinds(h)
    assert kinds(h, "mail") == ["escalation"]
    assert "Acknowledged" not in h.sent("hook")[-1].text()


async def test_an_ack_replayed_after_its_occurrence_closed_is_ignored() -> None:
    h = Harness(ROUTING)
    await h.push(raised("cpu-busy", "busy-1"))
    old = h.pipeline.book.open_with("busy-1")
    assert old is not None
    record = ack_record("busy-1", "alice", h.clock.now, problem=old.key, opened=old.opened_by)
    await h.push(policy_recovery("cpu-busy"))
    await h.push(raised("cpu-busy", "busy-2"))
    assert not h.pipeline.acknowledge(record)  # the acks topic is replayed at every start
    assert h.pipeline.book.open_with("busy-2").acked_by == ""


async def test_undo_resumes_follow_ups() -> None:
    h = Harness(ROUTING)
    await h.push(raised("cpu-busy", "busy-1"))
    assert h.ack("busy-1", "alice")
    await h.advance(12 * MINUTE)
    assert kinds(h) == ["raise"]
    assert h.ack("busy-1", "alice", undo=True)
    await h.advance(1 * MINUTE)  # 13 min: re-notification 1 is due again
    assert kinds(h) == ["raise", "renotify"]
    await h.advance(3 * MINUTE)
    assert kinds(h, "mail") == ["escalation"]


async def test_an_ack_survives_a_restart_in_the_ledger() -> None:
    h = Harness(ROUTING)
    await h.push(raised("cpu-busy", "busy-1"))
    assert h.ack("busy-1", "alice")
    await h.advance(1)
    h.pipeline = h.build()
    await h.advance(30 * MINUTE)
    assert kinds(h) == ["raise"]


def test_ack_records_round_trip_and_bad_ones_are_ignored() -> None:
    import orjson

    record = ack_record("e1", "kim", 1.0, "restarting", problem="p", opened="e0", undo=True)
    assert parse_ack(orjson.dumps(record)) == record
    for bad in (
        {**record, "undo": "yes"},
        {**record, "at": True},
        {**record, "problem": 3},
        {**record, "kind": "nack"},
    ):
        assert parse_ack(orjson.dumps(bad)) is None
    assert parse_ack(b"\xff") is None


def test_an_ack_record_that_breaks_the_pipeline_is_skipped_not_fatal() -> None:
    """No record of the acks topic may stop the notifier (issue 10 §1, the acks member)."""
    from types import SimpleNamespace

    from gamsi.notifier.service import _apply_ack

    class Exploding:
        def acknowledge(self, ack: object) -> bool:
            raise KeyError("what no code path foresaw")

    record = SimpleNamespace(
        topic="acks",
        partition=0,
        offset=7,
        key=b"k",
        value=b'{"kind":"ack","event_id":"e","by":"kim","at":1.0}',
    )
    assert _apply_ack(record, Exploding()) is False  # type: ignore[arg-type]
