"""A table recovery that stops receiving its changelog is fetched again.

After a rebalance Faust restores each newly assigned partition's host states from the
table's changelog before it resumes judging (``faust/tables/recovery.py``). With
faust-streaming 0.15 that restore sometimes never receives a single changelog record:
the log repeats "No event received for active tp ... since recovery start" while
aiokafka keeps sending fetch requests for the partition, and the worker judges none of
its partitions until it is restarted (seen here in about one start in three with three
workers joining one group, and after a worker was killed). The consumer's position has
then moved past records that never reached the recovery. Seeking the partition back to
the last offset the recovery applied makes aiokafka fetch them again, and the recovery
completes. :func:`install` adds a timer that does so for a partition whose restore has
made no progress for :data:`STALL_SECONDS`, and logs what it found.

The same kind of stall hits the metrics partitions themselves: after a rebalance a
worker sometimes owns a partition, has caught up its restore and reports ready, yet
Faust never hands it another record (seen after a broker and a worker were killed in
tests/integration/test_cluster_failover.py: 946 records of one partition left, the
other five drained). :class:`PartitionWatch` finds an owned metrics partition whose next
offset to judge has not moved for :data:`PARTITION_STALL_SECONDS` while the broker holds
more, logs Faust's view of it (active, paused, buffered, the read offset) so the cause
can be read off the log, and makes Faust fetch it again from the next offset to judge.
"""

from __future__ import annotations

import logging
import time
from typing import Any

log = logging.getLogger(__name__)

STALL_SECONDS = 3.0
"""Seconds without progress after which a changelog partition's restore is fetched again."""
CHECK_EVERY = 1.0
PARTITION_STALL_SECONDS = 10.0
"""Seconds an owned metrics partition may have records and hand none over before it is
fetched again (above a commit interval and a busy agent's pause; below a session
timeout, so a stall is mended before anyone would notice a failover)."""


class _Standstill:
    """When each key's position last moved; :meth:`stuck` once it has stood still for
    ``stall`` seconds, and then again only after another ``stall`` (the new fetch's
    time)."""

    def __init__(self, stall: float) -> None:
        self.stall = stall
        self._seen: dict[Any, tuple[Any, float]] = {}

    def stuck(self, key: Any, position: Any, now: float) -> bool:
        seen = self._seen.get(key)
        if seen is None or seen[0] != position:
            self._seen[key] = (position, now)
            return False
        if now - seen[1] < self.stall:
            return False
        self._seen[key] = (position, now)
        return True

    def keep_only(self, keys: Any) -> None:
        """Forget every key not in ``keys`` (caught up, lost, or no longer watched)."""
        for key in [k for k in self._seen if k not in keys]:
            del self._seen[key]


class RecoveryWatch:
    """Decides which changelog partitions' restores are stalled (pure; time passed in).

    ``offsets``/``highwaters`` are Faust's ``Recovery.active_offsets`` and
    ``active_highwaters`` (the last applied offset, -1 for none, and the last offset to
    apply, per changelog partition)."""

    def __init__(self, stall: float = STALL_SECONDS) -> None:
        self.stall = stall
        self._still = _Standstill(stall)

    def stalled(
        self, recovering: bool, offsets: Any, highwaters: Any, now: float
    ) -> dict[Any, int]:
        """{changelog partition: offset to fetch from} for each restore that is behind its
        highwater and has not moved for ``stall`` seconds; {} while not recovering."""
        behind = {}
        if recovering:
            for tp, need in list(highwaters.items()):
                have = offsets.get(tp)
                if need is not None and need >= 0 and (have is None or have < need):
                    behind[tp] = have
        self._still.keep_only(behind)
        return {
            tp: (have if have is not None else -1) + 1
            for tp, have in behind.items()
            if self._still.stuck(tp, have, now)
        }


class PartitionWatch:
    """Decides which metrics partitions stopped reaching the worker (pure; time passed in).

    ``next_offsets``: partition → the next offset this worker must judge
    (:class:`gamsi.streams.gaps.Gaps`); ``highwaters``: partition → the broker's end
    offset (None when unknown)."""

    def __init__(self, stall: float = PARTITION_STALL_SECONDS) -> None:
        self.stall = stall
        self._still = _Standstill(stall)

    def stalled(
        self,
        recovering: bool,
        next_offsets: dict[int, int],
        highwaters: dict[int, int | None],
        now: float,
    ) -> dict[int, int]:
        """{partition: offset to fetch from} for each partition with records past its
        next offset that has not moved for ``stall`` seconds; {} while recovering."""
        behind = {}
        if not recovering:
            for partition, at in next_offsets.items():
                end = highwaters.get(partition)
                if end is not None and at < end:
                    behind[partition] = at
        self._still.keep_only(behind)
        return {p: at for p, at in behind.items() if self._still.stuck(p, at, now)}


def install(
    app: Any,
    topic: str | None = None,
    next_offsets: dict[int, int] | None = None,
    ends: dict[int, int] | None = None,
) -> RecoveryWatch:
    """Check ``app``'s table recovery every :data:`CHECK_EVERY` seconds (a Faust timer),
    and, given the metrics ``topic`` and the worker's next offsets to judge, its metrics
    partitions against the broker's end offsets (:class:`PartitionWatch`), which it
    leaves in ``ends`` (partition → end offset) for the worker's lag figure.

    Faust starts timers once the first recovery is complete, so a stall in a worker's
    very first restore is not caught; the stalls seen came after a rebalance. (A watch
    started with the worker instead, before the app, made restarted workers sometimes
    never receive their partitions: test_streams_state.py.)"""
    stalls = RecoveryWatch()
    quiet = PartitionWatch()

    @app.timer(interval=CHECK_EVERY)
    async def recovery_watch() -> None:
        try:
            await _check(app, stalls)
            if topic is not None and next_offsets is not None:
                await _check_partitions(app, quiet, topic, next_offsets, ends)
        except Exception as exc:  # a diagnostic must never stop the worker
            log.warning("recovery watch: %r", exc)

    return stalls


async def _check(app: Any, stalls: RecoveryWatch) -> None:
    recovery = app.tables.recovery
    stalled = stalls.stalled(
        bool(recovery.in_recovery),
        recovery.active_offsets,
        recovery.active_highwaters,
        time.monotonic(),
    )
    if not stalled:
        return
    for tp, offset in stalled.items():
        try:
            position = await app.consumer.position(tp)
        except Exception as exc:  # diagnostics only
            position = repr(exc)
        log.warning(
            "restoring %s[%d] stalled at offset %d of %d (consumer position %s): "
            "fetching it again from %d",
            tp.topic,
            tp.partition,
            offset - 1,
            recovery.active_highwaters.get(tp),
            position,
            offset,
        )
    await app.consumer.seek_wait(stalled)


async def _check_partitions(
    app: Any,
    quiet: PartitionWatch,
    topic: str,
    next_offsets: dict[int, int],
    known: dict[int, int] | None,
) -> None:
    from faust.types import TP

    owned = dict(next_offsets)
    consumer = app.consumer
    # the broker's end offsets, not the consumer's: a partition Faust stopped fetching
    # keeps the highwater of its last fetch, which looks caught up
    asked = await consumer.highwaters(*(TP(topic, p) for p in owned)) if owned else {}
    ends = {tp.partition: end for tp, end in asked.items()}
    if known is not None:
        known.clear()
        known.update({p: end for p, end in ends.items() if end is not None})
    stalled = quiet.stalled(bool(app.tables.recovery.in_recovery), owned, ends, time.monotonic())
    for partition, offset in stalled.items():
        tp = TP(topic, partition)
        active = consumer._active_partitions or set()  # faust-streaming 0.15 internals
        log.warning(
            "metrics partition %d: nothing handed over for %.0f s at offset %d of %s "
            "(active %s, paused %s, buffered %s, read offset %s, flow %s/%s): fetching it "
            "again from %d",
            partition, quiet.stall, offset, ends[partition], tp in active,
            tp in consumer._paused_partitions, tp in consumer._buffered_partitions,
            consumer._read_offset.get(tp), consumer.flow_active,
            app.flow_control.is_active(), offset,
        )  # fmt: skip
        consumer._buffered_partitions.discard(tp)
        consumer.resume_partitions({tp})
        await consumer.seek(tp, offset)


__all__ = [
    "CHECK_EVERY",
    "PARTITION_STALL_SECONDS",
    "STALL_SECONDS",
    "PartitionWatch",
    "RecoveryWatch",
    "install",
]
