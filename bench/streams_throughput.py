"""Samples per second through ONE stream worker process, and the produce→event latency curve.

    .venv/bin/python bench/streams_throughput.py [--runs 3] [--rates 25000,50000,100000,200000]

Runs against the real Kafka broker: $GAMSI_BENCH_BOOTSTRAP if set, otherwise the
project's own broker started on 127.0.0.1:29192 in a temporary directory. The worker
is the real `gamsi streams run` process; if it exits, the bench stops at once with the
last lines of its log.

Throughput (median of --runs, with min and max, after --warmup-runs that are not counted:
the first runs against a freshly started broker ran 20–35 % slower while its JVM compiled
its hot paths): hosts × batches metric batches (each
of `samples` samples, the size of a real Linux host's tick) are produced first; then a
fresh worker starts. Every host's first batch breaches (a raise) and its last recovers,
so the worker's own event timestamps bracket the work:
samples / (last emitted_at − first emitted_at).

Latency: one fresh worker is fed at each rate of --rates in turn, paced evenly in 20 ms
slices, for --seconds after a --warmup that is not counted; 20 probe hosts a second
alternate breach/recovery, so each probe batch yields an event. Latency is the time from
producing a batch (its timestamp) to the severity event being appended to the events
topic, which keeps message.timestamp.type=LogAppendTime: the broker stamps the arrival,
so the load generator's own scheduling cannot distort the figure. Then the rate between
the highest that kept p99 < 50 ms and the lowest that did not is bisected --search times.
Targets (issue 15): >= 400,000 samples/s per worker; p99 < 50 ms at 100,000 samples/s.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

from aiokafka import AIOKafkaProducer
from benchlib import (
    Child,
    bench_broker,
    cpu_between,
    guard,
    load_average,
    percentile,
    trace_cpu,
)
from streams_load import Events, Templates, batch, bench_settings, dump, produce_all

from gamsi.settings import Settings, to_environ
from gamsi.topics import ensure_topics

PROBES = 20
SLICES = 50  # the load generator sends every 1/SLICES s
P99_TARGET_MS = 50.0
DIAG = Path(__file__).resolve().parent / "diag"


def start_worker(settings: Settings, log: Path, args: argparse.Namespace) -> Child:
    env = {**os.environ, **to_environ(settings)}
    if args.slow_callbacks:  # asyncio's debug mode logs every callback slower than 100 ms
        env["PYTHONASYNCIODEBUG"] = "1"
    if args.diagnose:  # log GC pauses >= 5 ms (bench/diag/sitecustomize.py)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(DIAG), env.get("PYTHONPATH")]))
    return Child("worker", [sys.executable, "-m", "gamsi", "streams", "run"], log, env)


def slow_callbacks(log: Path) -> str:
    lines = [line for line in log.read_text(errors="replace").splitlines() if "took" in line]
    slow = [float(m.group(1)) for line in lines if (m := re.search(r"took (\d+\.\d+)", line))]
    return f"{len(slow)} callbacks >= 100 ms (longest {max(slow, default=0) * 1000:.0f} ms)"


def backlog(args: argparse.Namespace) -> list[tuple[bytes, bytes]]:
    """``args.hosts`` × ``args.batches`` (key, batch) messages of ``args.samples`` samples,
    an hour old: every host's first batch breaches (a raise), its last recovers."""
    t0 = time.time() - 3600
    messages = []
    for b in range(args.batches):
        cpu = 95.0 if b == 0 else (5.0 if b == args.batches - 1 else 50.0)
        for h in range(args.hosts):
            host = f"h{h:05d}"
            messages.append((host.encode(), batch(host, t0 + b * 10, cpu, args.samples)))
    return messages


def judged_rate(
    got: list[tuple[float, object]], args: argparse.Namespace, log: Path
) -> tuple[float, float, float]:
    """(samples/s, first, last emitted_at) of a :func:`backlog` judged into ``got``: its
    samples after the first batches (which open the clock) over the events' time span."""
    if len(got) < 2 * args.hosts:
        raise SystemExit(f"only {len(got)} of {2 * args.hosts} events; see {log}")
    emitted = sorted(e.emitted_at for _, e in got)  # type: ignore[attr-defined]
    samples = args.hosts * (args.batches - 1) * args.samples
    return samples / (emitted[-1] - emitted[0]), emitted[0], emitted[-1]


async def throughput_run(
    bootstrap: str, tmp: Path, args: argparse.Namespace, n: int | str
) -> float:
    s = bench_settings(bootstrap, tmp, "tp-" + uuid.uuid4().hex[:6], args.partitions)
    await ensure_topics(s)
    await produce_all(s, backlog(args))
    log = tmp / f"worker-tp{n}.log"
    events = Events(s)
    await events.consumer.start()
    try:
        with start_worker(s, log, args) as w:
            trace: list[tuple[float, float]] = []
            tracer = asyncio.create_task(trace_cpu(w.pid, trace))
            got = await guard(events.until(2 * args.hosts, within=600), w)
            tracer.cancel()
    finally:
        await events.consumer.stop()
    rate, first, last = judged_rate(got, args, log)
    samples, wall = args.hosts * (args.batches - 1) * args.samples, last - first
    cpu = cpu_between(trace, first, last)
    extra = f"; {slow_callbacks(log)}" if args.slow_callbacks else ""
    print(
        f"  run {n}: {rate:,.0f} samples/s; the worker used {cpu:.1f} CPU-s in {wall:.1f} s "
        f"({samples / max(cpu, 1e-9):,.0f} samples per CPU-second; {load_average()}){extra}",
        flush=True,
    )
    return rate


async def feed(
    producer: AIOKafkaProducer, topic: str, make: Templates, rate: float, seconds: int
) -> float:
    """Feed ``rate`` samples/s for ``seconds``, evenly over 1/SLICES s slices; probes are
    spread over each second. Returns how long the feeding took (s)."""
    per_second = max(PROBES, round(rate / make.samples))
    step = per_second / PROBES
    plan = [
        (f"probe{int(i / step)}", True) if i % step < 1 else (f"load{i:05d}", False)
        for i in range(per_second)
    ]
    start = time.monotonic()
    for second in range(seconds):
        cpu = 95.0 if second % 2 == 0 else 5.0
        for k in range(SLICES):
            for host, probe in plan[k * per_second // SLICES : (k + 1) * per_second // SLICES]:
                value = make(host, time.time(), cpu if probe else 50.0)
                await producer.send(topic, value, key=host.encode())
            await asyncio.sleep(max(0.0, start + second + (k + 1) / SLICES - time.monotonic()))
    await producer.flush()
    return time.monotonic() - start


async def latency_at(
    s: Settings, producer: AIOKafkaProducer, events: Events, rate: float, args: argparse.Namespace
) -> float:
    """One point of the curve: p99 in ms at ``rate`` samples/s (printed with p50 and max)."""
    make = Templates(args.samples)
    # the previous rate's backlog must be judged first: it would be counted at this one
    await events.until(events.expected, within=600)
    seen = len(events.got)
    events.expected = seen + (args.warmup + args.seconds) * PROBES
    total = args.warmup + args.seconds
    measured_from = time.time() + args.warmup
    took = await feed(producer, s.kafka.metrics_topic, make, rate, total)
    await events.until(events.expected, within=60)
    probes = [
        (appended, e)
        for appended, e in events.got[seen:]
        if e.host.startswith("probe") and e.ts >= measured_from  # type: ignore[attr-defined]
    ]
    if not probes:
        raise SystemExit(f"no probe events arrived at {rate:,.0f} samples/s")
    lat = sorted((appended - e.ts) * 1000 for appended, e in probes)  # type: ignore[attr-defined]
    # where the time went: batch produced → judged and sent by the worker → appended
    judged = sorted((e.emitted_at - e.ts) * 1000 for _, e in probes)  # type: ignore[attr-defined]
    sent = sorted((a - e.emitted_at) * 1000 for a, e in probes)  # type: ignore[attr-defined]
    if args.dump:
        dump(args.dump, rate, probes)
    p99 = percentile(lat, 99)
    late = f" (the generator needed {took:.1f} s for {total} s)" if took > total + 0.5 else ""
    print(
        f"  {rate:>9,.0f} samples/s: p50 {statistics.median(lat):7.1f} ms  p99 {p99:7.1f} ms  "
        f"max {lat[-1]:7.1f} ms  ({len(lat)} events, {load_average()}){late}\n"
        f"{'':22}of which produce -> judged p50 {statistics.median(judged):.1f} / p99 "
        f"{percentile(judged, 99):.1f} ms, event sent -> appended p50 "
        f"{statistics.median(sent):.1f} / p99 {percentile(sent, 99):.1f} ms",
        flush=True,
    )
    return p99


async def latency_curve(bootstrap: str, tmp: Path, args: argparse.Namespace) -> None:
    s = bench_settings(bootstrap, tmp, "lat-" + uuid.uuid4().hex[:6], args.partitions)
    await ensure_topics(s)
    producer = AIOKafkaProducer(bootstrap_servers=s.kafka.bootstrap, linger_ms=1)
    events = Events(s)
    await producer.start()
    await events.consumer.start()
    log = tmp / "worker-lat.log"
    try:
        with start_worker(s, log, args) as w:
            await producer.send_and_wait(
                s.kafka.metrics_topic, Templates(args.samples)("warm", time.time(), 95), b"warm"
            )
            await guard(events.until(1, within=120), w)  # the worker is up and assigned
            p99 = {}
            for rate in [float(r) for r in args.rates.split(",")]:
                p99[rate] = await guard(latency_at(s, producer, events, rate, args), w)
            for _ in range(args.search):
                good = [r for r, v in p99.items() if v < P99_TARGET_MS]
                bad = [r for r, v in p99.items() if v >= P99_TARGET_MS and r > max(good, default=0)]
                if not bad:
                    break
                rate = round((max(good, default=0) + min(bad)) / 2, -3)
                p99[rate] = await guard(latency_at(s, producer, events, rate, args), w)
    finally:
        await producer.stop()
        await events.consumer.stop()
    good = [r for r, v in p99.items() if v < P99_TARGET_MS]
    best = f"{max(good):,.0f} samples/s" if good else "none of the rates measured"
    print(f"highest rate measured with p99 < {P99_TARGET_MS:.0f} ms: {best}")
    if args.slow_callbacks:
        print(f"worker: {slow_callbacks(log)}")


async def main_async(bootstrap: str, tmp: Path, args: argparse.Namespace) -> None:
    if args.runs > 0:  # --runs 0: the latency curve only
        print(
            f"throughput: {args.hosts:,} hosts × {args.batches} batches × {args.samples} "
            f"samples, {args.runs} run(s), a fresh worker each",
            flush=True,
        )
        for n in range(args.warmup_runs):  # a broker just started is a cold JVM
            await throughput_run(bootstrap, tmp, args, f"{n + 1} (warm-up, not counted)")
        rates = [await throughput_run(bootstrap, tmp, args, n + 1) for n in range(args.runs)]
        print(
            f"throughput: median {statistics.median(rates):,.0f} samples/s (min "
            f"{min(rates):,.0f}, max {max(rates):,.0f}); target >= 400,000 per worker process"
        )
    if not args.skip_latency:
        print("latency, produce -> severity event (broker append time), one worker:")
        await latency_curve(bootstrap, tmp, args)
        print(f"target: p99 < {P99_TARGET_MS:.0f} ms at 100,000 samples/s")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--hosts", type=int, default=2000)
    parser.add_argument("--batches", type=int, default=10, help="batches per host")
    parser.add_argument("--samples", type=int, default=100, help="samples per batch")
    parser.add_argument("--partitions", type=int, default=6)
    parser.add_argument(
        "--runs", type=int, default=3, help="throughput runs (median, min, max); 0: latency only"
    )
    parser.add_argument(
        "--warmup-runs",
        type=int,
        default=1,
        help="throughput runs made first and not counted (the broker's JVM warms up)",
    )
    parser.add_argument("--seconds", type=int, default=15, help="measured seconds per rate")
    parser.add_argument("--warmup", type=int, default=3, help="seconds of load not counted")
    parser.add_argument("--skip-latency", action="store_true")
    parser.add_argument("--rates", default="25000,50000,100000,200000", help="samples/s")
    parser.add_argument("--search", type=int, default=2, help="bisection steps for the best rate")
    parser.add_argument(
        "--slow-callbacks",
        action="store_true",
        help="run the worker in asyncio debug mode and count callbacks that blocked >= 100 ms",
    )
    parser.add_argument("--diagnose", action="store_true", help="the worker logs GC pauses >= 5 ms")
    parser.add_argument(
        "--dump", type=Path, help="append 'rate ts emitted appended' per probe event here"
    )
    parser.add_argument("--keep", type=Path, help="keep the worker logs in this directory")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="gamsi-bench-") as d:
        tmp = args.keep or Path(d)
        tmp.mkdir(parents=True, exist_ok=True)
        with bench_broker(tmp) as bootstrap:  # outside the event loop: it waits synchronously
            asyncio.run(main_async(bootstrap, tmp, args))


if __name__ == "__main__":
    main()
