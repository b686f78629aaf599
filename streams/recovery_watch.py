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
"""

from __future__ import annotations

import logging
import time
from typing import Any

log = logging.getLogger(__name__)

STALL_SECONDS = 3.0
"""Seconds without progress after which a changelog partition's restore is fetched again."""
CHECK_EVERY = 1.0


class RecoveryWatch:
    """Decides which changelog partitions' restores are stalled (pure; time passed in).

    ``offsets``/``highwaters`` are Faust's ``Recovery.active_offsets`` and
    ``active_highwaters`` (the last applied offset, -1 for none, and the last offset to
    apply, per changelog partition)."""

    def __init__(self, stall: float = STALL_SECONDS) -> None:
        self.stall = stall
        self._progress: dict[Any, tuple[int | None, float]] = {}

    def stalled(
        self, recovering: bool, offsets: Any, highwaters: Any, now: float
    ) -> dict[Any, int]:
        """{changelog partition: offset to fetch from} for each restore that is behind its
        highwater and has not moved for ``stall`` seconds; {} while not recovering."""
        if not recovering:
            self._progress.clear()
            return {}
        out = {}
        for tp, need in list(highwaters.items()):
            have = offsets.get(tp)
            if need is None or need < 0 or (have is not None and have >= need):
                self._progress.pop(tp, None)
                continue
            seen = self._progress.get(tp)
            if seen is None or seen[0] != have:
                self._progress[tp] = (have, now)
            elif now - seen[1] >= self.stall:
                out[tp] = (have if have is not None else -1) + 1
                self._progress[tp] = (have, now)  # give the new fetch its time
        return out


def install(app: Any) -> RecoveryWatch:
    """Check ``app``'s table recovery every :data:`CHECK_EVERY` seconds (a Faust timer).

    Faust starts timers once the first recovery is complete, so a stall in a worker's
    very first restore is not caught; the stalls seen came after a rebalance. (A watch
    started with the worker instead, before the app, made restarted workers sometimes
    never receive their partitions: test_streams_state.py.)"""
    stalls = RecoveryWatch()

    @app.timer(interval=CHECK_EVERY)
    async def recovery_watch() -> None:
        try:
            await _check(app, stalls)
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


__all__ = ["CHECK_EVERY", "STALL_SECONDS", "RecoveryWatch", "install"]
