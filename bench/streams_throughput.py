"""Samples per second through ONE stream worker process, and produce→event latency.

    .venv/bin/python bench/streams_throughput.py [--hosts 2000] [--batches 10] [--samples 100]

Runs against the real Kafka broker: $GAMSI_BENCH_BOOTSTRAP if set, otherwise the
project's own local broker started on 127.0.0.1:49092 in a temporary directory.
The worker is the real `gamsi streams run` process.

Throughput: hosts × batches metric batches (each of `samples` samples, the size of
a real Linux host's tick) are produced first; then the worker starts. Every host's
first batch breaches (a raise) and its last recovers, so the worker's own event
timestamps bracket the work: samples / (last emitted_at − first emitted_at).

Latency: a fresh worker is fed at half the measured rate (then at each of
`--rates`) for `--seconds`, after a warm-up that is not counted; probe
hosts alternate breach/recovery so every probe batch yields an event. Latency is
the time from producing a batch (its timestamp) to the severity event being
appended to the events topic: the bench creates that topic with
message.timestamp.type=LogAppendTime, so the broker itself stamps the arrival and
the load generator's own scheduling cannot distort the figure.
Target (PRODUCT.md): >= 200,000 samples/s; p99 < 50 ms at half that load.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from gamsi.kafka_broker import throwaway_broker
from gamsi.schemas import MetricBatch, Sample, encode
from gamsi.schemas.codec import decode_severity_event
from gamsi.settings import Settings, load_settings, to_environ
from gamsi.topics import ensure_topics

FILLER_ITEMS = [f"bench.item{i}" for i in range(200)]
PROBE_WATCH = "bench-spike"
# The shipped OS defaults (all of them judge every batch) plus one watch that fires at
# once, so that events mark when the worker reached a given batch.
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


@contextlib.contextmanager
def broker_for_bench(tmp: Path) -> Iterator[str]:
    given = os.environ.get("GAMSI_BENCH_BOOTSTRAP")
    if given:
        yield given
        return
    with throwaway_broker(tmp / "kafka", 49092) as bootstrap:
        yield bootstrap


def bench_settings(bootstrap: str, tmp: Path, tag: str, partitions: int) -> Settings:
    base = load_settings(environ={})
    policy = tmp / "bench-policy.yaml"
    policy.write_text(POLICY)
    return replace(
        base,
        streams=replace(base.streams, app_id=f"bench-{tag}", policy_path=str(policy)),
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


@contextlib.contextmanager
def worker(settings: Settings, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    env = {**os.environ, **to_environ(settings)}
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "gamsi", "streams", "run"], env=env, stdout=out, stderr=out
        )
    try:
        yield proc
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


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


async def create_topics(settings: Settings) -> None:
    await ensure_topics(settings)  # the events topic keeps LogAppendTime: latency is read off it


async def collect_events(
    settings: Settings, count: int, within: float
) -> list[tuple[float, object]]:
    """(broker append time, event) pairs of the probe watch."""
    consumer = AIOKafkaConsumer(
        settings.kafka.events_topic,
        bootstrap_servers=settings.kafka.bootstrap,
        group_id=None,
        auto_offset_reset="earliest",
        fetch_max_wait_ms=5,
    )
    await consumer.start()
    got: list[tuple[float, object]] = []
    deadline = time.monotonic() + within
    try:
        while len(got) < count and time.monotonic() < deadline:
            for messages in (await consumer.getmany(timeout_ms=200)).values():
                for m in messages:
                    event = decode_severity_event(m.value)
                    if event.watch == PROBE_WATCH:  # the defaults' own events are not markers
                        got.append((m.timestamp / 1000, event))
    finally:
        await consumer.stop()
    return got


async def throughput(bootstrap: str, tmp: Path, args: argparse.Namespace) -> float:
    s = bench_settings(bootstrap, tmp, "tp-" + uuid.uuid4().hex[:6], args.partitions)
    await create_topics(s)
    t0 = time.time() - 3600
    messages = []
    for b in range(args.batches):
        cpu = 95.0 if b == 0 else (5.0 if b == args.batches - 1 else 50.0)
        for h in range(args.hosts):
            host = f"h{h:05d}"
            messages.append((host.encode(), batch(host, t0 + b * 10, cpu, args.samples)))
    print(f"producing {len(messages):,} batches × {args.samples} samples ...", flush=True)
    await produce_all(s, messages)
    with worker(s, tmp / "worker-tp.log"):
        events = await collect_events(s, 2 * args.hosts, within=600)
    if len(events) < 2 * args.hosts:
        raise SystemExit(f"only {len(events)} of {2 * args.hosts} events; see {tmp}/worker-tp.log")
    emitted = sorted(e.emitted_at for _, e in events)  # type: ignore[attr-defined]
    samples = args.hosts * (args.batches - 1) * args.samples  # first batches open the clock
    rate = samples / (emitted[-1] - emitted[0])
    print(
        f"throughput: {rate:,.0f} samples/s ({rate / args.samples:,.0f} batches/s) "
        f"over {samples:,} samples in one worker process"
    )
    return rate


async def latency(bootstrap: str, tmp: Path, args: argparse.Namespace, target: float) -> None:
    s = bench_settings(bootstrap, tmp, "lat-" + uuid.uuid4().hex[:6], args.partitions)
    await create_topics(s)
    per_second = max(1, int(target / args.samples))
    probes = [f"probe{i}" for i in range(20)]
    make = Templates(args.samples)
    producer = AIOKafkaProducer(bootstrap_servers=s.kafka.bootstrap, linger_ms=1)
    await producer.start()
    total = args.warmup + args.seconds
    with worker(s, tmp / "worker-lat.log"):
        await producer.send_and_wait(
            s.kafka.metrics_topic, make("warm", time.time(), 95), key=b"warm"
        )
        await collect_events(s, 1, within=120)  # the worker is up and assigned
        consumer_task = asyncio.create_task(
            collect_events(s, 1 + total * len(probes), within=total + 60)
        )
        print(
            f"latency: feeding {per_second * args.samples:,} samples/s for {args.warmup} s "
            f"(warm-up, not counted) + {args.seconds} s ...",
            flush=True,
        )
        start = time.monotonic()
        measured_from = time.time() + args.warmup
        for second in range(total):
            for i in range(per_second):
                if i < len(probes):
                    host, cpu = probes[i], (95.0 if second % 2 == 0 else 5.0)
                else:
                    host, cpu = f"load{i:05d}", 50.0
                await producer.send(
                    s.kafka.metrics_topic, make(host, time.time(), cpu), key=host.encode()
                )
            await asyncio.sleep(max(0.0, start + second + 1 - time.monotonic()))
        await producer.flush()
        produced_in = time.monotonic() - start
        events = await consumer_task
    await producer.stop()
    lat = sorted(
        (appended - e.ts) * 1000  # type: ignore[attr-defined]
        for appended, e in events
        if e.host.startswith("probe") and e.ts >= measured_from  # type: ignore[attr-defined]
    )
    if not lat:
        raise SystemExit("no probe events arrived")
    p50 = statistics.median(lat)
    p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))]
    print(f"(the load generator needed {produced_in:.1f} s for {total} s of load)")
    print(
        f"latency at {per_second * args.samples:,} samples/s: p50 {p50:.1f} ms, "
        f"p99 {p99:.1f} ms, max {lat[-1]:.1f} ms over {len(lat)} events"
    )


async def main_async(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="gamsi-bench-") as d:
        tmp = Path(d)
        with broker_for_bench(tmp) as bootstrap:
            rate = await throughput(bootstrap, tmp, args)
            print("target: >= 200,000 samples/s per worker process")
            if not args.skip_latency:
                rates = [float(r) for r in args.rates.split(",")] if args.rates else []
                for target in [rate / 2, *rates]:
                    await latency(bootstrap, tmp, args, target)
                print("target: p99 < 50 ms at half the load")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--hosts", type=int, default=2000)
    parser.add_argument("--batches", type=int, default=10, help="batches per host")
    parser.add_argument("--samples", type=int, default=100, help="samples per batch")
    parser.add_argument("--partitions", type=int, default=6)
    parser.add_argument("--seconds", type=int, default=20, help="latency phase length")
    parser.add_argument("--warmup", type=int, default=5, help="seconds of load not counted")
    parser.add_argument("--skip-latency", action="store_true")
    parser.add_argument(
        "--rates",
        default="100000,50000",
        help="latency loads in samples/s to measure after half the measured maximum",
    )
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
