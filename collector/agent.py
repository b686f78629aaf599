"""The collector agent: collect every tick, publish one MetricBatch, spool when offline.

Ticks are scheduled on the monotonic clock at ``start + k * interval``, so they
never drift, and a tick that comes late (a suspended VM, a slow command) skips
the missed slots instead of bursting. The batch's ``ts`` is the wall clock at
collection. Collection and delivery are decoupled by a queue: the tick loop
never waits for Kafka, and the sender delivers strictly in order, spooled
batches first, so a reconnect replays the outage before anything new.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from pathlib import Path

from gamsi.collector.collect import Collector
from gamsi.collector.publisher import KafkaPublisher, PublishError
from gamsi.collector.spool import Spool
from gamsi.collector.stats import SystemStats
from gamsi.extras import missing_extra
from gamsi.schemas.codec import encode
from gamsi.schemas.records import MetricBatch, Sample
from gamsi.settings import CollectorSettings, ConfigError, Settings
from gamsi.terminal import printable

log = logging.getLogger("gamsi.collector.agent")

RETRY_DELAY = 1.0
"""Seconds between delivery attempts while Kafka is unreachable."""

KAFKA_LOG_PERIOD = 60.0
"""aiokafka logs an ERROR per retry while the broker is away (17,953 lines in a 135 s
outage): each kind of its messages is let through once per this many seconds, with a
count of the rest (:mod:`gamsi.logs`). The agent itself logs one line per state change."""


def spool_dir(settings: Settings) -> Path:
    return Path(settings.collector.spool_dir or settings.data_dir / "spool").expanduser()


def next_deadline(start: float, interval: float, now: float) -> float:
    """The first tick slot ``start + k * interval`` strictly after ``now``."""
    k = int((now - start) // interval) + 1
    return start + k * interval


def build_batch(
    config: CollectorSettings,
    os_name: str,
    seq: int,
    ts: float,
    samples: list[Sample],
    run: str = "",
) -> MetricBatch:
    """The tick's batch. Names are made printable (:func:`gamsi.terminal.printable`):
    a real mount point or NIC may contain a control character (glibc's ``getmntent``
    decodes ``\\012`` in /proc/mounts to a newline; the kernel allows ESC in a NIC
    name), which :mod:`gamsi.schemas.validate` refuses, so the sample is sent with
    ``\\xNN`` escapes instead of the whole batch being dead-lettered."""
    return MetricBatch(
        host=printable(config.host),
        ts=ts,
        samples=[_printable_sample(s) for s in samples],
        seq=seq,
        interval=config.interval,
        os=os_name,
        tags=[printable(t) for t in config.tags],
        run=run,
    )


def _printable_sample(sample: Sample) -> Sample:
    item, instance = printable(sample.item), printable(sample.instance)
    if item is sample.item and instance is sample.instance:
        return sample
    return Sample(item, sample.value, instance)


class Agent:
    """One host's agent. :meth:`tick` makes a batch; :meth:`run` is the service loop."""

    def __init__(
        self,
        settings: Settings,
        stats: SystemStats | None = None,
        publisher: KafkaPublisher | None = None,
    ) -> None:
        self.settings = settings
        self.config = settings.collector
        self.collector = Collector(self.config, stats)
        self.publisher = publisher or KafkaPublisher(settings)
        self.spool = Spool(spool_dir(settings), self.config.spool_max_bytes)
        self.seq = 0
        self.run_id = secrets.token_hex(4)  # this process's run id: (run, seq) names a batch
        self.os = self.collector.stats.os()
        self._queue: asyncio.Queue[MetricBatch | None] = asyncio.Queue()
        self._queued = asyncio.Event()  # set by the tick loop: wakes a paused sender
        self._offline_since: float | None = None  # monotonic time of the first failed delivery

    def tick(self, now: float) -> MetricBatch:
        """Collect once; ``now`` is monotonic (for rates), the batch carries wall time."""
        ts = time.time()
        samples = self.collector.collect(now)
        samples.append(Sample("collector.spool_dropped", float(self.spool.dropped)))
        samples.append(Sample("collector.spool_pending", float(len(self.spool))))
        samples.append(Sample("collector.spool_bytes", float(self.spool.bytes)))
        batch = build_batch(self.config, self.os, self.seq, ts, samples, self.run_id)
        self.seq += 1
        return batch

    async def run(self, stop: asyncio.Event) -> None:
        self.collector.open()
        try:
            await self._ensure_topics()
            sender = asyncio.create_task(self._send_loop(), name="gamsi-collector-sender")
            commands = self._commands(stop)
            try:
                await self._tick_loop(stop)
            finally:
                self._queue.put_nowait(None)
                self._queued.set()
                await sender
                if commands is not None:
                    await commands
        finally:
            self._spool_queued()
            await self.publisher.close()
            self.collector.close()
            log.info(
                "collector stopped at seq %d; %d batches in the spool %s",
                *(self.seq, len(self.spool), self.spool.directory),
            )

    def _commands(self, stop: asyncio.Event) -> asyncio.Task[None] | None:
        """Recovery commands for this host, only with [remediator] public_key_file (the
        listener and its crypto are not even imported otherwise: the agent stays lean)."""
        if not self.settings.remediator.public_key_file:
            return None
        try:
            from gamsi.collector.remediate import listen
        except ModuleNotFoundError as exc:
            needs = missing_extra(exc, "[remediator] public_key_file (recovery scripts)")
            raise ConfigError(needs or str(exc)) from None

        return asyncio.create_task(listen(self.settings, stop), name="gamsi-remediate")

    async def _ensure_topics(self) -> None:
        from gamsi.logs import rate_limit
        from gamsi.topics import ensure_topics  # imports the last of aiokafka's loggers

        rate_limit("aiokafka", KAFKA_LOG_PERIOD)
        try:
            await asyncio.wait_for(ensure_topics(self.settings), self.config.publish_timeout)
        except Exception as exc:  # Kafka down at boot is normal for an agent: the spool covers it
            log.warning("could not ensure topics (Kafka unreachable?): %s", exc)

    async def _tick_loop(self, stop: asyncio.Event) -> None:
        interval = self.config.interval
        start = time.monotonic()
        deadline = start
        while not stop.is_set():
            now = time.monotonic()
            if now < deadline:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), deadline - now)
                continue
            self._queue.put_nowait(self.tick(now))
            self._queued.set()
            deadline = next_deadline(start, interval, time.monotonic())

    async def _send_loop(self) -> None:
        """Deliver in order: spooled batches first; spool whatever cannot go now."""
        while True:
            if len(self.spool):
                if not self._spool_queued():
                    return
                record = self.spool.peek()
                if record is not None:
                    if await self._deliver(*record):
                        self.spool.ack()
                        if not len(self.spool):
                            log.info("spool replayed; delivering live again")
                    elif not await self._pause():
                        return
                continue
            batch = await self._queue.get()
            if batch is None:
                return
            key, value = self.config.host.encode(), encode(batch)
            if not await self._deliver(key, value):
                self.spool.append(key, value)
                if not await self._pause():
                    return

    async def _deliver(self, key: bytes, value: bytes) -> bool:
        try:
            await self.publisher.publish(key, value)
        except PublishError as exc:
            if self._offline_since is None:  # one line per state change, not per retry
                self._offline_since = time.monotonic()
                log.warning("%s; spooling to %s", exc, self.spool.directory)
            return False
        if self._offline_since is not None:
            log.info(
                "Kafka takes batches again after %.0f s; %d batches in the spool to replay",
                time.monotonic() - self._offline_since,
                len(self.spool),
            )
            self._offline_since = None
        return True

    async def _pause(self) -> bool:
        """Wait before retrying, spooling new batches meanwhile; False when stopping."""
        self._queued.clear()
        if self._queue.empty():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._queued.wait(), RETRY_DELAY)
        return self._spool_queued()

    def _spool_queued(self) -> bool:
        """Move queued batches into the spool (keeps order); False if a stop was queued."""
        while not self._queue.empty():
            batch = self._queue.get_nowait()
            if batch is None:
                self._queue.put_nowait(None)  # remembered for run()'s final flush
                return False
            self.spool.append(self.config.host.encode(), encode(batch))
        return True
