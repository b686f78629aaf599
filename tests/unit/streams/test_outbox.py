"""A worker killed after its host's state reached the changelog and before that state's
transitions reached the events topic loses nothing: the record carries them until the
broker acknowledges them, and the next owner sends them again (gamsi.streams.outbox).

The example is the three-broker failover test's: ``fleet-105 recover`` judged by the
worker SIGKILLed in that instant, its state restored past it by the next owner, the
replayed batch taken as a repeat, the transition sent by nobody."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import orjson
import pytest

from gamsi.schemas.codec import encode
from gamsi.schemas.records import MetricBatch, Sample, SeverityEvent
from gamsi.streams.outbox import Outbox
from gamsi.streams.worker import HostsByPartition, dump_state, judge_batch, run_ticks
from tests.unit.streams.timeline import make_engine

NOW = float(int(time.time()))
CPU = {"name": "cpu", "item": "cpu.util", "levels": {"urgent": ">= 90"}}


class Ack:
    """A send's outcome as Faust's ``Topic.send`` returns it (an asyncio future's face)."""

    def __init__(self, done: bool = False, error: BaseException | None = None) -> None:
        self._done, self._error = done, error

    def done(self) -> bool:
        return self._done

    def exception(self) -> BaseException | None:
        return self._error


def event_(event_id: str) -> SeverityEvent:
    return SeverityEvent(event_id, "h", "cpu.util", "", "cpu", 4, 0, "raise", 95.0, 90.0, NOW)


def batch(seq: int, cpu: float, host: str = "fleet-105") -> bytes:
    return encode(MetricBatch(host, NOW + seq, [Sample("cpu.util", cpu)], seq, 1.0, "linux"))


def restored(table: dict[str, Any]) -> dict[str, Any]:
    """The table as the next owner restores it: each record through the changelog's form."""
    return {host: orjson.loads(dump_state(value)) for host, value in table.items()}


class Worker:
    """judge_batch and run_ticks as the app calls them, with the sends it would make."""

    def __init__(self, table: dict[str, Any], acked: bool) -> None:
        self.engine = make_engine(CPU)
        self.hosts = HostsByPartition(table)
        self.outbox = Outbox()
        self.acked = acked
        self.sent: list[SeverityEvent] = []

    def send(self, events: list[SeverityEvent]) -> None:
        assert self.outbox.take() == events  # what was decided is what is to be sent
        for event in events:
            self.sent.append(event)
            self.outbox.sent(event, Ack(done=self.acked))

    def judge(self, value: bytes) -> list[SeverityEvent]:
        _, events = judge_batch(
            self.engine, self.hosts, value, 2, now=NOW + 100, outbox=self.outbox
        )
        self.send(events)
        return events

    def tick(self, now: float) -> list[SeverityEvent]:
        out = run_ticks(self.engine, self.hosts, 2, now, True, lambda h, e: None, self.outbox)
        events = [e for _, transitions in out for e in transitions]
        self.send(events)
        return events


def test_a_transition_whose_send_was_never_acknowledged_is_sent_by_the_next_owner():
    killed = Worker({}, acked=False)  # SIGKILLed before the broker acknowledged anything
    killed.judge(batch(1, 95.0))
    recover = killed.judge(batch(2, 10.0))
    assert [e.transition for e in recover] == ["recover"]
    record = killed.hosts.table["fleet-105"]
    assert [e.event_id for e in record["o"]] == [
        e.event_id for e in killed.sent
    ]  # both still owed: neither was acknowledged

    heir = Worker(restored(killed.hosts.table), acked=True)
    again = heir.judge(batch(2, 10.0))  # the replayed batch: a repeat for the engine
    assert heir.outbox.counts["transitions_resent"] == 2
    assert [(e.event_id, e.transition) for e in again] == [
        (e.event_id, e.transition) for e in killed.sent
    ]  # the same events, the same ids, in their order
    assert isinstance(again[0], SeverityEvent)
    assert again[1].host == "fleet-105"
    assert "o" in heir.hosts.table["fleet-105"]  # carried until this write is followed

    heir.judge(batch(3, 10.0))  # the next write: everything it carried was acknowledged
    assert "o" not in heir.hosts.table["fleet-105"]


def test_a_host_with_no_next_batch_has_its_owed_events_sent_by_a_tick():
    killed = Worker({}, acked=False)
    raised = killed.judge(batch(1, 95.0))
    heir = Worker(restored(killed.hosts.table), acked=True)
    sent = heir.tick(NOW + 2)
    assert [e.event_id for e in sent] == [e.event_id for e in raised]
    assert heir.tick(NOW + 3) == []  # sent once: acknowledged now
    assert "o" not in heir.hosts.table["fleet-105"]  # and the record freed by that tick


def test_an_acknowledged_transition_is_neither_carried_on_nor_sent_again():
    worker = Worker({}, acked=True)
    worker.judge(batch(1, 95.0))
    assert len(worker.hosts.table["fleet-105"]["o"]) == 1  # carried until the next write
    worker.tick(NOW + 2)  # no batch since: the tick frees the record
    assert "o" not in worker.hosts.table["fleet-105"]
    heir = Worker(restored(worker.hosts.table), acked=True)
    assert heir.judge(batch(1, 95.0)) == []
    assert heir.tick(NOW + 3) == []
    assert worker.sent
    assert not heir.sent


def test_a_failed_send_is_sent_again_and_a_pending_one_is_not():
    outbox = Outbox()
    event = event_("e1")
    outbox.sent(event, Ack(done=False))
    value, send = outbox.record({"p": 0, "s": None, "o": [event]}, {"p": 0, "s": None}, [])
    assert send == []
    assert value["o"] == [event]
    assert not outbox.due(value)
    outbox.sent(event, Ack(done=True, error=RuntimeError("broker gone")))
    value, send = outbox.record(value, {"p": 0, "s": None}, [])
    assert send == [event]
    assert value["o"] == [event]


def test_a_carried_entry_that_is_not_an_event_is_dropped_not_fatal():
    outbox = Outbox()
    value, send = outbox.record({"p": 0, "s": None, "o": ["junk", 3]}, {"p": 0, "s": None}, [])
    assert send == []
    assert "o" not in value


def test_the_outbox_follows_real_asyncio_futures():
    async def scenario() -> tuple[bool, bool]:
        outbox = Outbox()
        event = event_("e1")
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        outbox.sent(event, future)
        held = {"p": 0, "s": None, "o": [event]}
        before = outbox.due(held)
        future.set_result(None)
        return before, outbox.due(held)

    assert asyncio.run(scenario()) == (False, True)


def ids(events: list[SeverityEvent]) -> list[str]:
    return [e.event_id for e in events]


def test_the_other_agent_writing_the_host_mid_send_neither_repeats_nor_frees_it():
    """The batch agent and the ticks agent interleave at every await: between deciding to
    send an owed event and handing it to the producer, the other one may write the host.
    Seen on the real broker: the raise sent twice by the heir (same id)."""
    killed = Worker({}, acked=False)
    raised = killed.judge(batch(1, 95.0))
    for first, second in (("judge", "tick"), ("tick", "judge")):
        heir = Worker(restored(killed.hosts.table), acked=False)
        if first == "judge":  # decided, not yet handed to the producer
            _, decided = judge_batch(
                heir.engine, heir.hosts, batch(1, 95.0), 2, now=NOW + 100, outbox=heir.outbox
            )
        else:
            out = run_ticks(
                heir.engine, heir.hosts, 2, NOW + 2, True, lambda h, e: None, heir.outbox
            )
            decided = [e for _, events in out for e in events]
        assert ids(heir.outbox.take()) == ids(decided)  # with the sender, not yet handed over
        assert ids(decided) == ids(raised)
        meanwhile = heir.tick(NOW + 3) if second == "tick" else heir.judge(batch(1, 95.0))
        assert meanwhile == []
        assert ids(heir.hosts.table["fleet-105"]["o"]) == ids(raised)  # still owed


def test_a_pruned_acknowledgement_frees_this_process_s_record_but_not_a_restored_one():
    worker = Worker({}, acked=True)
    raised = worker.judge(batch(1, 95.0))
    worker.outbox.prune()  # a rebalance: acknowledged sends forgotten
    assert worker.tick(NOW + 2) == []
    assert "o" not in worker.hosts.table["fleet-105"]

    killed = Worker({}, acked=True)
    killed.judge(batch(1, 95.0))
    snapshot = restored(killed.hosts.table)  # the record still carries the raise
    killed.outbox.prune()
    killed.hosts.table.clear()
    killed.hosts.table.update(snapshot)  # the partition lost and restored again
    killed.hosts.invalidate()
    assert ids(killed.tick(NOW + 2)) == ids(raised)  # sent again: at least once, same id


def test_an_event_the_producer_never_took_stays_owed():
    worker = Worker({}, acked=True)
    _, decided = judge_batch(
        worker.engine, worker.hosts, batch(1, 95.0), 2, now=NOW + 100, outbox=worker.outbox
    )
    assert worker.outbox.take() == decided
    worker.outbox.failed(decided[0], RuntimeError("producer stopped"))
    assert ids(worker.tick(NOW + 2)) == ids(decided)  # sent again by the next tick
    assert worker.tick(NOW + 3) == []
    assert "o" not in worker.hosts.table["fleet-105"]  # acknowledged this time: freed


def test_events_reach_the_producer_in_the_order_decided_whichever_agent_sends():
    """A re-sent raise decided by the ticks agent must not be overtaken by the recover the
    batch agent decides while the raise waits for the producer (found in review)."""

    async def scenario() -> list[str]:
        outbox, handed = Outbox(), []
        gate = asyncio.Event()

        async def send(event: SeverityEvent) -> Ack:
            if event.event_id == "raise":
                await gate.wait()  # the producer's metadata not there yet
            handed.append(event.event_id)
            return Ack(done=True)

        outbox.record(None, {"p": 0, "s": None}, [event_("raise")])
        ticks = asyncio.ensure_future(outbox.flush(send))
        await asyncio.sleep(0)
        outbox.record(None, {"p": 0, "s": None}, [event_("recover")])
        batches = asyncio.ensure_future(outbox.flush(send))
        await asyncio.sleep(0.01)
        gate.set()
        await asyncio.gather(ticks, batches)
        return handed

    assert asyncio.run(scenario()) == ["raise", "recover"]


def test_a_send_that_raises_leaves_it_and_the_rest_owed():
    async def scenario() -> tuple[Outbox, dict[str, Any]]:
        outbox = Outbox()
        value, _ = outbox.record(None, {"p": 0, "s": None}, [event_("a"), event_("b")])

        async def send(event: SeverityEvent) -> Ack:
            raise RuntimeError("producer stopped")

        with pytest.raises(RuntimeError):
            await outbox.flush(send)
        return outbox, value

    outbox, value = asyncio.run(scenario())
    assert outbox.due(value)  # the next tick writes it and sends both again
    _, send = outbox.record(value, {"p": 0, "s": None}, [])
    assert ids(send) == ["a", "b"]


@pytest.mark.parametrize(
    "carried",
    [5, True, "o", [{"event_id": ["x"], "host": "h", "transition": "raise"}],
     [{"event_id": "x", "host": "h", "transition": None}], [{"event_id": "x"}]],
)  # fmt: skip
def test_a_restored_record_s_broken_carried_events_are_dropped_never_fatal(carried):
    outbox = Outbox()
    held = {"p": 0, "s": None, "o": carried}
    assert not outbox.due(held)
    value, send = outbox.record(held, {"p": 0, "s": None}, [])
    assert send == []
    assert "o" not in value
