"""The stream worker's Kafka consumer, tuned so that a batch never waits for a quiet partition.

faust-streaming 0.15 creates its aiokafka consumer with ``fetch_max_wait_ms=1500``, fixed.
aiokafka sends at most one fetch request to a broker at a time, for the partitions whose
previous records have been handed over (``aiokafka.consumer.fetcher``,
``_get_actions_per_node``). When the worker has not yet taken a response's records
within 100 ms (the fetcher's prefetch backoff) — a burst of batches, a GC pause, a
loaded machine — the next request goes out for the *other* partitions only: the ticks
topic and any metrics partitions that were empty. If those stay quiet, the broker holds
that request for the full 1.5 s, and the busy partitions' next records wait behind it.
Recorded in bench/streams_throughput.py (issue 15): produce→judged latency in a sawtooth
of 1.5–1.9 s peaks falling ~1 ms per ms, i.e. records arriving in bursts every ~1.5 s,
at 10,000 samples/s with the worker mostly idle. With the wait bounded at
:data:`FETCH_MAX_WAIT_MS` a record waits at most that long behind a quiet request; an
idle worker sends one empty fetch per wait (100 a second at 10 ms: negligible next to a
worker's work, and the broker answers them without touching disk).
"""

from __future__ import annotations

from typing import Any

import faust
from faust.transport.drivers import aiokafka as faust_aiokafka

FETCH_MAX_WAIT_MS = 10
"""Longest time (ms) the broker may hold a fetch that found no new records."""


class _ConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
    def _create_worker_consumer(self, transport: Any) -> Any:
        consumer = super()._create_worker_consumer(transport)
        consumer._fetch_max_wait_ms = FETCH_MAX_WAIT_MS  # read when its fetcher starts
        return consumer


class _Consumer(faust_aiokafka.Consumer):
    def _new_consumer_thread(self) -> faust_aiokafka.AIOKafkaConsumerThread:
        return _ConsumerThread(self, loop=self.loop, beacon=self.beacon)


class TunedApp(faust.App):
    """A Faust app whose Kafka consumer fetches with :data:`FETCH_MAX_WAIT_MS`."""

    def _new_transport(self) -> Any:
        transport = super()._new_transport()
        if not isinstance(transport, faust_aiokafka.Transport):
            raise TypeError(f"expected Faust's aiokafka transport, got {type(transport).__name__}")
        transport.Consumer = _Consumer
        return transport
