"""Every offset of a worker's metrics partitions is judged, in order: gaps are read back.

faust-streaming 0.15 sometimes hands a stream worker a partition's records with some
missing: around a rebalance it makes a newly assigned partition fetchable before it
pauses it, then drops records aiokafka already fetched (the active-partition filter in
``Consumer.getmany``, a stream skipping records of another generation, the read-offset
check in ``_drain_messages``), it resumes a partition without a committed offset
where the fetcher got to (docs/operations.md, "Several stream workers"), and it emptied
the streams' queues at the end of a recovery (fixed where it happens:
``streams/transport.py``, ``_FlowControl``; a gap after the last record of a partition
is only seen when the next record comes). A dropped
batch is a transition nobody judges: a raise or a recovery that no later batch repeats
is lost.

The metrics topic's offsets are consecutive (its producers are idempotent, never
transactional, and it is not compacted), so a record whose offset is past the next one
this worker expects proves the records between were dropped. :class:`Gaps` keeps the
next expected offset of every partition the worker owns — from the group's committed
offset when the partition is assigned (below it, the previous owner judged everything),
then from each record judged — and :meth:`Gaps.in_order` gives the missing records,
read straight from the broker by :class:`RangeReader`, to be judged first, in order.
A record judged twice is harmless: the engine drops a batch it has already seen (the
agent's run and seq, docs/rules.md), so reading back too much costs time, never a
duplicate transition.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, MutableMapping
from typing import Any, Protocol

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition

from gamsi.kafka_auth import kafka_client_options
from gamsi.settings import Settings

log = logging.getLogger(__name__)

READ_WITHIN = 30.0
"""Seconds a read-back of one gap may take before what it could not read is given up."""


class Reader(Protocol):
    async def committed(self, partitions: set[int]) -> dict[int, int]: ...

    async def read(self, partition: int, start: int, end: int) -> list[Any]: ...


class RangeReader:
    """Reads the metrics topic outside Faust: the group's committed offsets, and the
    records of one partition between two offsets. Never joins the group or commits
    (manual assignment, auto-commit off); a consumer is opened per call (a rebalance, a
    gap: rare) and closed after."""

    def __init__(self, settings: Settings, topic: str, group: str) -> None:
        self._settings, self.topic, self.group = settings, topic, group

    def _consumer(self) -> AIOKafkaConsumer:
        return AIOKafkaConsumer(
            **kafka_client_options(self._settings),
            group_id=self.group,
            enable_auto_commit=False,
            auto_offset_reset="earliest",  # a gap older than the retention: from the start
        )

    async def committed(self, partitions: set[int]) -> dict[int, int]:
        """{partition: the group's committed offset, else the partition's first offset}."""
        consumer = self._consumer()
        try:
            await consumer.start()
            tps = [TopicPartition(self.topic, p) for p in sorted(partitions)]
            consumer.assign(tps)
            first = await consumer.beginning_offsets(tps)
            out = {}
            for tp in tps:
                offset = await consumer.committed(tp)
                out[tp.partition] = first[tp] if offset is None else max(offset, first[tp])
            return out
        finally:
            await consumer.stop()

    async def read(
        self, partition: int, start: int, end: int, within: float = READ_WITHIN
    ) -> list[ConsumerRecord[bytes, bytes]]:
        """The records of ``partition`` with ``start <= offset < end``, in offset order;
        fewer if they cannot all be read within ``within`` seconds (logged)."""
        tp = TopicPartition(self.topic, partition)
        consumer = self._consumer()
        out: list[ConsumerRecord[bytes, bytes]] = []
        try:
            await consumer.start()
            consumer.assign([tp])
            consumer.seek(tp, start)
            deadline = time.monotonic() + within
            while time.monotonic() < deadline:
                batch = await consumer.getmany(tp, timeout_ms=500, max_records=1000)
                out.extend(r for r in batch.get(tp, []) if r.offset < end)
                if await consumer.position(tp) >= end:
                    return out
            log.error(
                "metrics partition %d: could not read offsets %d..%d back within %.0f s; "
                "%d read",
                partition, start, end - 1, within, len(out),
            )  # fmt: skip
            return out
        finally:
            await consumer.stop()


class Gaps:
    """The next metrics offset to judge per owned partition, and the read-back of gaps.

    ``next_offset`` is the map to keep (the worker's /metrics reads its lag off it):
    partition → the next offset this worker must judge."""

    def __init__(self, reader: Reader, next_offset: MutableMapping[int, int]) -> None:
        self.reader = reader
        self.next = next_offset
        self.refetched = 0
        """Records read back from the broker because Faust dropped them (a counter)."""

    async def assigned(self, now: set[int], before: set[int]) -> None:
        """The worker's metrics partitions changed from ``before`` to ``now``: forget the
        lost ones; a new one is expected from the group's committed offset."""
        for partition in before - now:
            self.next.pop(partition, None)
        new = now - before
        for partition in new:
            self.next.pop(partition, None)
        if new:
            try:
                self.next.update(await self.reader.committed(new))
            except Exception as exc:  # Kafka away: the first record sets the start
                log.warning("committed offsets of partitions %s unknown: %s", sorted(new), exc)

    async def in_order(self, partition: int, offset: int, record: Any) -> AsyncIterator[Any]:
        """The records of ``partition`` to judge now, in offset order: those this worker
        has not judged that come before ``offset`` (read back from the broker), then
        ``record`` itself (the one Faust hands over now, at ``offset``).

        Each counts as judged only once the caller's loop body for it has finished and
        the next one is asked for. The stream worker's ticks read :attr:`next` to decide
        whether the partition has caught up (:class:`gamsi.streams.worker.Watching`):
        marking a gap judged before it was read back and judged (it takes a new consumer,
        a second or more on a loaded machine) let a tick in between find the partition
        caught up and raise the gap's hosts silent, recovered a tick later (seen in the
        stream failover test after a worker was killed)."""
        expected = self.next.get(partition)
        if expected is not None and offset > expected:
            missed = await self.reader.read(partition, expected, offset)
            self.refetched += len(missed)
            log.warning(
                "metrics partition %d: offsets %d..%d were not handed over (faust-streaming "
                "dropped them); %d read back from the broker and judged first",
                partition, expected, offset - 1, len(missed),
            )  # fmt: skip
            for earlier in missed:
                yield earlier
                self._judged(partition, earlier.offset)
        yield record
        self._judged(partition, offset)

    def _judged(self, partition: int, offset: int) -> None:
        # a replay below what was judged (a redelivery, Faust's seek back) moves nothing
        self.next[partition] = max(offset + 1, self.next.get(partition) or 0)
