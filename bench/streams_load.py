"""The load side of bench/streams_throughput.py: batches, their producer, the events reader."""

from __future__ import annotations

import asyncio
import time
from dataclasses import fields, replace
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from gamsi.schemas import MetricBatch, Sample, encode
from gamsi.schemas.codec import decode_severity_event
from gamsi.settings import Settings, load_settings

FILLER_ITEMS = [f"bench.item{i}" for i in range(200)]
PROBE_WATCH = "bench-spike"
# One watch that fires at once, so that events mark when the worker reached a batch.
POLICY = f"""\
version: 1
watches:
  - name: {PROBE_WATCH}
    item: cpu.util
    levels: {{urgent: ">= 90"}}
    hysteresis: 10
"""


def batch(host: str, ts: float, cpu: float, samples: int) -> bytes:
    body = [Sample("cpu.util", cpu)]
    body += [Sample(FILLER_ITEMS[i], float(i), "") for i in range(samples - 1)]
    return encode(MetricBatch(host, ts, body, interval=10.0, os="linux", tags=["bench"]))


class Templates:
    """Pre-encoded batches with the timestamp swapped in at send time, so that the
    load generator (on the same 2 cores) costs far less than the worker it measures."""

    MARK = b'"ts":0.5,'

    def __init__(self, samples: int) -> None:
        self.samples = samples
        self.cache: dict[tuple[str, float], bytes] = {}

    def __call__(self, host: str, ts: float, cpu: float) -> bytes:
        key = (host, cpu)
        if key not in self.cache:
            self.cache[key] = batch(host, 0.5, cpu, self.samples)
        return self.cache[key].replace(self.MARK, b'"ts":%r,' % ts, 1)


def bench_settings(bootstrap: str, tmp: Path, tag: str, partitions: int) -> Settings:
    base = load_settings(environ={})
    policy = tmp / "bench-policy.yaml"
    policy.write_text(POLICY)
    streams = replace(base.streams, app_id=f"bench-{tag}", policy_path=str(policy))
    if "metrics_port" in {f.name for f in fields(streams)}:  # never clash with a live worker
        streams = replace(streams, metrics_port=0)
    return replace(
        base,
        streams=streams,
        paths=replace(base.paths, data_dir=str(tmp / f"data-{tag}")),
        kafka=replace(
            base.kafka,
            bootstrap=bootstrap,
            metrics_topic=f"bench-{tag}.metrics",
            events_topic=f"bench-{tag}.events",
            deadletter_topic=f"bench-{tag}.deadletter",
            partitions=partitions,
        ),
    )


async def produce_all(settings: Settings, messages: list[tuple[bytes, bytes]]) -> None:
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.kafka.bootstrap, linger_ms=5, max_batch_size=1 << 20
    )
    await producer.start()
    try:
        pending = []
        for key, value in messages:
            pending.append(await producer.send(settings.kafka.metrics_topic, value, key=key))
            if len(pending) >= 2000:
                await asyncio.gather(*pending)
                pending.clear()
        await asyncio.gather(*pending)
    finally:
        await producer.stop()


class Events:
    """The probe watch's events as the broker appended them: (append time s, event)."""

    def __init__(self, settings: Settings) -> None:
        self.got: list[tuple[float, object]] = []
        self.expected = 0  # probe events produced so far (the latency curve counts them)
        self.consumer = AIOKafkaConsumer(
            settings.kafka.events_topic,
            bootstrap_servers=settings.kafka.bootstrap,
            group_id=None,
            auto_offset_reset="earliest",
            fetch_max_wait_ms=5,
        )

    async def until(self, count: int, within: float) -> list[tuple[float, object]]:
        deadline = time.monotonic() + within
        while len(self.got) < count and time.monotonic() < deadline:
            for messages in (await self.consumer.getmany(timeout_ms=100)).values():
                for m in messages:
                    event = decode_severity_event(m.value)
                    if event.watch == PROBE_WATCH:
                        self.got.append((m.timestamp / 1000, event))
        return self.got


def dump(path: Path, rate: float, probes: list[tuple[float, Any]]) -> None:
    """Append 'rate ts emitted appended' per probe event (s) to ``path``."""
    with open(path, "a") as out:
        for appended, e in probes:
            out.write(f"{rate:.0f} {e.ts:.3f} {e.emitted_at:.3f} {appended:.3f}\n")
