"""Several notifiers share the events partitions: who acts on which problem, what a
notifier taking partitions over rebuilds from the ledger, and what a crash leaves there.

Two pipelines on one in-memory ledger stand for two notifiers of one consumer group;
``take_over`` is what the service calls after aiokafka assigns partitions (the ledger
having been read again to its end).
"""

from __future__ import annotations

from aiokafka.partitioner import DefaultPartitioner

from gamsi.notifier.ownership import Ownership, partition_of
from gamsi.notifier.pipeline import Pipeline

from .conftest import Harness, event
from .test_lifecycle import ROUTING  # re-notify every 30 m, escalate after 15 m
from .test_told import MAINTENANCE, T, failed_run, run_until

MINUTE = 60.0
HOSTS = [f"web-{i}" for i in range(40)]
ON_0 = [h for h in HOSTS if partition_of(h, 2) == 0]
ON_1 = [h for h in HOSTS if partition_of(h, 2) == 1]


def kinds(h: Harness, channel: str, host: str = "") -> list[str]:
    return [m.kind for m in h.sent(channel) if host in m.events[0].host]


def second_notifier(h: Harness, owned: set[int]) -> Pipeline:
    """Another notifier on the same ledger, channels and clock, given ``owned`` of 2."""
    other = h.build()
    other.take_over(owned, 2)
    return other


def test_a_host_belongs_to_the_partition_kafkas_default_partitioner_gives_its_key() -> None:
    for host in [*HOSTS, "db-01.example.com", "호스트-1"]:
        for partitions in (1, 2, 3, 12):
            expected = DefaultPartitioner()(host.encode(), list(range(partitions)), [])
            assert partition_of(host, partitions) == expected
    assert ON_0
    assert ON_1
    ownership = Ownership(2, {1})
    assert ownership.owns(ON_1[0])
    assert not ownership.owns(ON_0[0])
    assert ownership.owns(ON_0[0], partition=1)  # where its events came from wins


async def test_timers_act_only_for_the_owned_partitions() -> None:
    h = Harness(ROUTING)
    h.pipeline.ownership.assign({0}, 2)
    await h.push(event(ON_0[0]))
    await h.push(event(ON_1[0]))  # from a batch fetched before its partition was revoked
    await h.advance(15 * MINUTE)
    await h.advance(15 * MINUTE)
    assert kinds(h, "slack", ON_0[0]) == ["raise", "renotify"]
    assert kinds(h, "slack", ON_1[0]) == ["raise"]  # no follow-up: not this notifier's
    assert kinds(h, "mail", ON_0[0]) == ["escalation", "renotify"]
    assert kinds(h, "mail", ON_1[0]) == []
    h.pipeline.ownership.revoke()  # between a revocation and the next assignment
    await h.advance(30 * MINUTE)
    assert len(h.sent("slack")) == 3


async def test_the_recorded_partition_wins_over_the_hash() -> None:
    h = Harness(ROUTING)
    h.pipeline.ownership.assign({1}, 2)
    h.pipeline.accept(event(ON_0[0]), ("p", 0), h.clock.now, partition=1)  # keyed otherwise
    await h.pipeline.flush(h.clock.now)
    await h.advance(30 * MINUTE)
    assert kinds(h, "slack") == ["raise", "renotify"]
    other = second_notifier(h, {0})
    assert other.book.problems == {}  # the hash says 0, the events said 1: not its problem


async def test_a_notifier_taking_over_rebuilds_the_partitions_it_receives_and_no_others() -> None:
    h = Harness(ROUTING)
    a, b = ON_0[0], ON_1[0]
    await h.push(event(a))
    await h.push(event(b))
    await h.advance(16 * MINUTE)  # escalated both: fired steps are in the ledger
    h.ack(event(b).event_id, "kim")  # the first notifier dies before writing this ack
    acked = dict(h.pipeline._acks)
    other = h.build()
    for ack in acked.values():  # the acks topic is read whole by every notifier
        other.acknowledge(ack)
    other.take_over({1}, 2)
    assert [p.event.host for p in other.book.problems.values()] == [b]
    problem = other.book.problems[next(iter(other.book.problems))]
    assert problem.acked_by == "kim"
    assert problem.escalated == {"prod": 1}
    assert problem.told
    assert all(problem.told.values())


async def test_follow_ups_after_a_failover_come_from_the_saved_times_once_and_not_early() -> None:
    h = Harness(ROUTING)
    host = ON_1[0]
    await h.push(event(host))
    await h.advance(15 * MINUTE)
    await h.advance(15 * MINUTE)
    assert kinds(h, "slack") == ["raise", "renotify"]
    h.pipeline.ownership.revoke()  # the first notifier is gone (killed, or gave it up)
    await h.advance(15 * MINUTE)  # the session timeout and more pass
    h.pipeline = second_notifier(h, {1})
    for _ in range(14):  # t = 46..59 m: the next one is due at 60 m, not 30 m after start
        await h.advance(MINUTE)
    assert kinds(h, "slack") == ["raise", "renotify"]
    await h.advance(MINUTE)  # t = 60 m
    assert kinds(h, "slack") == ["raise", "renotify", "renotify"]
    assert kinds(h, "mail") == ["escalation", "renotify", "renotify"]  # no second escalation
    renotify = h.sent("slack")[-1]
    assert renotify.thread_ref == "ts-1"  # in the thread the first notifier started
    for _ in range(5):
        await h.advance(MINUTE)
    assert len(h.sent("slack")) == 3


async def test_a_recovery_waiting_in_its_window_at_a_crash_is_sent_by_the_next_notifier() -> None:
    h = Harness(ROUTING, storm_window=30.0)
    host = ON_0[0]
    await h.push(event(host))
    await h.advance(31)
    assert kinds(h, "slack") == ["raise"]
    await h.push(event(host, "recover"))  # waits 30 s in its window
    assert [k for k in h.ledger.data if k.startswith("problem:")]  # not closed before it is sent
    h.pipeline = second_notifier(h, {0, 1})  # SIGKILL: the recovery's offset was not committed
    await h.push(event(host, "recover"))  # consumed again
    await h.advance(31)
    assert kinds(h, "slack") == ["raise", "recover"]
    assert [k for k in h.ledger.data if k.startswith(("problem:", "thread:"))] == []


async def test_an_escalation_step_waiting_at_a_crash_is_not_lost() -> None:
    h = Harness(ROUTING, storm_window=30.0)
    await h.push(event(ON_0[0]))
    await h.advance(31)
    await h.advance(15 * MINUTE)  # step 0 is due and waits in its window
    ((_, saved),) = [(k, v) for k, v in h.ledger.data.items() if k.startswith("problem:")]
    assert saved["escalated"] == {}  # marked fired only once it went out
    h.pipeline = second_notifier(h, {0, 1})
    await h.advance(1)
    await h.advance(31)
    assert kinds(h, "mail") == ["escalation"]


async def test_a_held_recovery_is_released_by_the_owner_of_its_partition_only() -> None:
    routing = MAINTENANCE.replace('start: "2027-01-15T08:15:00Z"', 'start: "2027-01-15T08:10:00Z"')
    routing = routing.replace('end: "2027-01-15T10:00:00Z"', 'end: "2027-01-15T08:30:00Z"')
    h = Harness(routing)
    await h.push(event("db-1"))  # db-1 is on partition 0 of 2
    h.clock.now = T + 15 * MINUTE
    await h.push(event("db-1", "recover"))  # inside the window: held, in the ledger
    h.pipeline.ownership.assign({1}, 2)  # not db-1's partition any more
    await run_until(h, 40)
    assert kinds(h, "slack") == ["raise"]
    assert second_notifier(h, {1}).book.held == {}  # nor loaded by a notifier of partition 1
    h.pipeline = second_notifier(h, {0})
    await run_until(h, 41)
    assert kinds(h, "slack") == ["raise", "recover"]


async def test_a_failed_scripts_escalation_is_sent_by_the_next_owner_if_the_first_died() -> None:
    h = Harness(MAINTENANCE)
    await h.push(event("db-1", ts=h.clock.now))  # the owner's (partition 0 of 2)
    h.pipeline.ownership.assign({0}, 2)
    other = second_notifier(h, {1})
    h.clock.now = T + MINUTE
    assert other.remediation(failed_run(h.clock.now), h.clock.now) == 0  # not its problem
    # the owner dies before it sends the escalation; the other takes partition 0 over
    assert other.take_over({0, 1}, 2, h.clock.now) == 1
    h.pipeline = other
    await h.advance(1)
    assert kinds(h, "slack") == ["raise", "escalation"]
    assert other.take_over({0, 1}, 2, h.clock.now) == 0  # went out: not again
