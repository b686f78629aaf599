"""The notifier's consumer loop, its offsets, and what it does when partitions move.

Several notifiers in one consumer group share the events topic's partitions. On a
rebalance aiokafka calls :class:`Handover` before fetching resumes, and every
member's ``on_partitions_revoked`` runs before any member's
``on_partitions_assigned`` (aiokafka's ``ConsumerRebalanceListener`` contract):

- revoked: stop acting for every problem (no timer fires, no recovery-script
  escalation is buffered), send what waits in storm windows, write the ledger,
  commit the offsets, forget the problems;
- assigned: pause the partitions received; the loop then reads the ledger again to
  its end (what the previous owner wrote before it gave up its partitions, or died),
  rebuilds the open problems, held recoveries and acks of those partitions, and only
  then resumes them and lets their timers fire. The read is not done in the callback
  itself: aiokafka sends no heartbeat until the callback returns, and a large ledger
  (100,000 keys took 1.5 to 2.8 s here) must not cost the notifier its membership.

A batch fetched before a revocation and processed after it keeps only the records
of partitions still owned; the others are not committed here, so their new owner
consumes them. A commit refused because the group is rebalancing is left to the
revocation (it commits what went out).
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections import Counter
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import CommitFailedError, IllegalStateError
from aiokafka.structs import OffsetAndMetadata

from gamsi.deadletter import deliver, kafka_sender, screen
from gamsi.notifier.ledger import KafkaLedger
from gamsi.notifier.pipeline import Pipeline
from gamsi.schemas.codec import decode_severity_event
from gamsi.schemas.records import DeadLetter
from gamsi.settings import Settings

log = logging.getLogger(__name__)


class Offsets:
    """Which offset each partition may commit: below the oldest record still in flight."""

    def __init__(self) -> None:
        self.inflight: dict[TopicPartition, set[int]] = {}
        self.seen: dict[TopicPartition, int] = {}
        self.committed: dict[TopicPartition, int] = {}

    def start(self, tp: TopicPartition, offset: int) -> None:
        self.seen[tp] = max(self.seen.get(tp, -1), offset)
        self.inflight.setdefault(tp, set()).add(offset)

    def skip(self, tp: TopicPartition, offset: int) -> None:
        self.seen[tp] = max(self.seen.get(tp, -1), offset)

    def finish(self, ref: tuple[TopicPartition, int]) -> None:
        self.inflight.get(ref[0], set()).discard(ref[1])

    def to_commit(self) -> dict[TopicPartition, OffsetAndMetadata]:
        """The offsets that changed since the last :meth:`committed_ok`."""
        out = {}
        for tp, last in self.seen.items():
            pending = self.inflight.get(tp)
            offset = min(pending) if pending else last + 1
            if self.committed.get(tp) != offset:
                out[tp] = OffsetAndMetadata(offset, "")
        return out

    def committed_ok(self, offsets: dict[TopicPartition, OffsetAndMetadata]) -> None:
        self.committed.update({tp: o.offset for tp, o in offsets.items()})

    def forget(self) -> None:
        """After a revocation: the next assignment starts from the committed offsets."""
        self.inflight.clear()
        self.seen.clear()
        self.committed.clear()

    async def commit(self, consumer: AIOKafkaConsumer) -> None:
        """Commit what may be; a commit the group refuses (it is rebalancing, these
        partitions may be another member's now) is logged and left to the revocation."""
        offsets = self.to_commit()
        if not offsets:
            return
        try:
            await consumer.commit(offsets)
        except (CommitFailedError, IllegalStateError) as exc:
            log.info("offsets not committed (%s); the rebalance settles them", exc)
            return
        self.committed_ok(offsets)


class Handover(ConsumerRebalanceListener):  # type: ignore[misc]
    """The rebalance listener (module docstring). ``lock`` is held by the consumer loop
    while it processes a batch, so a rebalance waits for the batch and vice versa. A
    failure of the revocation (the ledger cannot be written) is kept in ``error`` and
    raised by the loop (aiokafka would only log it): the notifier stops rather than go on
    with a state it could not hand over."""

    def __init__(
        self,
        consumer: AIOKafkaConsumer,
        pipeline: Pipeline,
        ledger: KafkaLedger,
        topic: str,
        fallback_partitions: int,
    ) -> None:
        self.consumer, self.pipeline, self.ledger = consumer, pipeline, ledger
        self.topic, self.fallback_partitions = topic, fallback_partitions
        self.offsets = Offsets()
        self.lock = asyncio.Lock()
        self.error: BaseException | None = None
        self.owned: set[int] = set()
        self.received: set[TopicPartition] | None = None  # assigned, state not loaded yet

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        async with self.lock:
            try:
                self.pipeline.ownership.revoke()  # from now on no timer acts
                self.owned, self.received = set(), None
                await drain(self.pipeline, self.offsets, everything=True)
                await self.offsets.commit(self.consumer)
                self.offsets.forget()
                self.pipeline.book.clear()
                if revoked:
                    log.info("partitions %s revoked", sorted(tp.partition for tp in revoked))
            except Exception as exc:  # aiokafka would only log it: the loop raises it
                self.error = exc

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        async with self.lock:
            self.received = {tp for tp in assigned if tp.topic == self.topic}
            self.consumer.pause(*self.received)  # fetched once their state is loaded

    async def take_over(self) -> None:
        """What the last assignment brought, called by the loop (heartbeats go on): the
        ledger read to its end, the pipeline rebuilt for the partitions received, which
        are then resumed. Raises KafkaError when the ledger cannot be read."""
        async with self.lock:
            if self.received is None:
                return
            started, received = time.monotonic(), self.received
            await self.ledger.load()
            parts = self.consumer.partitions_for_topic(self.topic) or set()
            owned = {tp.partition for tp in received}
            self.pipeline.take_over(owned, len(parts) or self.fallback_partitions, time.time())
            self.owned, self.received = owned, None
            self.consumer.resume(*(received & self.consumer.assignment()))
            log.info(
                "partitions %s assigned: %d open problems, ledger read in %.2f s",
                sorted(owned), len(self.pipeline.book.problems), time.monotonic() - started,
            )  # fmt: skip


async def drain(pipeline: Pipeline, offsets: Offsets, everything: bool = False) -> None:
    """Send what is due (everything), write the ledger, release the offsets sent."""
    for ref in await pipeline.flush(time.time(), everything=everything):
        offsets.finish(ref)


async def consume(
    settings: Settings,
    consumer: AIOKafkaConsumer,
    producer: AIOKafkaProducer,
    pipeline: Pipeline,
    handover: Handover,
    stop: asyncio.Event,
) -> None:
    """Consume, notify and commit until ``stop`` is set; then send everything and commit."""
    n = settings.notifier
    offsets = handover.offsets
    worker = f"notifier@{socket.gethostname()}"
    next_tick = time.time() + n.tick_interval
    log.info("notifier consuming %s as %s", settings.kafka.events_topic, n.group_id)
    while not stop.is_set():
        if handover.error is not None:
            raise handover.error
        await handover.take_over()
        due = pipeline.next_due()
        wait = n.tick_interval if due is None else min(n.tick_interval, max(0.0, due - time.time()))
        batch = await consumer.getmany(timeout_ms=int(wait * 1000), max_records=1000)
        async with handover.lock:
            now = time.time()
            for tp, records in batch.items():
                if tp.partition not in handover.owned:
                    continue  # revoked since it was fetched: its new owner consumes it
                for record in records:
                    letter = accept_record(pipeline, record, now, worker)
                    if letter is not None:
                        sender = kafka_sender(producer, settings.kafka.deadletter_topic)
                        await deliver(sender, letter)
                        offsets.skip(tp, record.offset)
                        continue
                    offsets.start(tp, record.offset)
            if now >= next_tick:
                pipeline.tick(now)
                next_tick = now + n.tick_interval
            await drain(pipeline, offsets)
            await offsets.commit(consumer)
    async with handover.lock:
        await drain(pipeline, offsets, everything=True)
        await offsets.commit(consumer)


COUNTS: Counter[str] = Counter()
"""Events this process consumed (``events``), for its /metrics."""


def accept_record(pipeline: Pipeline, record: Any, now: float, worker: str) -> DeadLetter | None:
    """Decode one consumed event (types and ranges) and hand it to the pipeline; any
    failure of either becomes its dead letter (gamsi.deadletter.screen). Never raises."""
    ref = (TopicPartition(record.topic, record.partition), record.offset)
    COUNTS["events"] += 1

    def handle(value: bytes) -> None:
        pipeline.accept(decode_severity_event(value), ref, now, record.partition)

    return screen(record, handle, worker)[1]
