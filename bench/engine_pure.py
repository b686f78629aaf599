"""Samples per second through the pure rule engine (no Kafka, no Faust).

Batches look like a real Linux collector's: about 85 samples per host per tick
(CPU and per-core CPU, load, memory, swap, four mounts, three disks, two NICs,
processes), judged by the shipped Linux defaults plus the disk-full predictor.
A tenth of the hosts run hot so transitions happen. Run:

    .venv/bin/python bench/engine_pure.py [--hosts 1000] [--ticks 30] [--orjson] [--restore]

``--orjson`` also encodes each host's state per batch to its changelog form, as the
Faust table does on every write (it decodes only on a restore: ``--restore`` decodes
per batch too); ``--profile`` prints the top of a cProfile run.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import random
import time

import orjson

from gamsi.schemas.records import MetricBatch, Sample
from gamsi.streams.engine import Engine
from gamsi.streams.policy import load_policy
from gamsi.streams.state import default as dump_default

MOUNTS = ("/", "/var", "/home", "/data")
DISKS = ("sda", "sdb", "nvme0n1")
NICS = ("eth0", "eth1")


def batch(host: str, ts: float, rng: random.Random, hot: bool) -> MetricBatch:
    busy = 97.0 if hot else 20.0
    s = [Sample("cpu.util", busy + rng.random() * 2)]
    s += [Sample(f"cpu.{k}", rng.random() * 5) for k in ("user", "system", "iowait", "steal")]
    s += [Sample("cpu.core.util", busy + rng.random(), str(i)) for i in range(16)]
    s += [Sample("load.per_core", 0.3), Sample("load.1", 5.0)]
    s += [Sample("memory.used_pct", 60 + rng.random()), Sample("memory.available_bytes", 8e9)]
    s += [Sample("swap.used_pct", 1.0), Sample("proc.count", 300.0), Sample("fd.used_pct", 2.0)]
    for m in MOUNTS:
        used = 93.0 if hot and m == "/data" else 40.0
        s += [
            Sample("disk.used_pct", used + rng.random() * 0.01, m),
            Sample("disk.free_bytes", 1e10, m),
            Sample("disk.total_bytes", 1e11, m),
            Sample("disk.inodes_used_pct", 5.0, m),
        ]
    for d in DISKS:
        for k in ("read_bytes_per_s", "write_bytes_per_s", "reads_per_s", "writes_per_s"):
            s.append(Sample(f"diskio.{k}", 1e5, d))
        s += [Sample("diskio.busy_pct", 10.0, d), Sample("diskio.await_ms", 2.0, d)]
    for n in NICS:
        for k in ("rx_bits_per_s", "tx_bits_per_s", "rx_packets_per_s", "tx_packets_per_s"):
            s.append(Sample(f"net.{k}", 1e6, n))
        for k in ("rx_errors_per_s", "tx_errors_per_s", "rx_drops_per_s", "tx_drops_per_s"):
            s.append(Sample(f"net.{k}", 0.0, n))
    s += [Sample("proc.up", 1.0, p) for p in ("sshd", "nginx", "postgres")]
    s += [Sample("system.uptime_s", 1e6), Sample("clock.synced", 1.0)]
    return MetricBatch(host=host, ts=ts, samples=s, seq=int(ts), interval=10.0, os="linux")


def run(hosts: int, ticks: int, use_orjson: bool, restore: bool = False) -> tuple[int, int, float]:
    rng = random.Random(7)
    engine = Engine(load_policy(None, "linux"))
    names = [f"host-{i:05d}" for i in range(hosts)]
    batches = [
        [batch(h, 1_000_000.0 + 10 * t, rng, i % 10 == 0) for i, h in enumerate(names)]
        for t in range(ticks)
    ]
    states: dict[str, tuple[object, bytes]] = {}
    samples = events = 0
    start = time.perf_counter()
    for tick in batches:
        for b in tick:
            state = states.get(b.host, (None, b"null"))
            state, out = engine.process(orjson.loads(state[1]) if restore else state[0], b)
            states[b.host] = (
                state,
                orjson.dumps(state, default=dump_default) if use_orjson else b"",
            )
            samples += len(b.samples)
            events += len(out)
    return samples, events, time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hosts", type=int, default=1000)
    ap.add_argument("--ticks", type=int, default=30)
    ap.add_argument("--orjson", action="store_true", help="round-trip state through orjson")
    ap.add_argument("--restore", action="store_true", help="also decode state per batch")
    ap.add_argument("--profile", action="store_true")
    args = ap.parse_args()
    if args.profile:
        prof = cProfile.Profile()
        prof.enable()
        run(args.hosts, args.ticks, args.orjson, args.restore)
        prof.disable()
        pstats.Stats(prof).sort_stats("tottime").print_stats(12)
        return
    run(50, 3, args.orjson)  # warm up: compile tables, load defaults
    samples, events, secs = run(args.hosts, args.ticks, args.orjson or args.restore, args.restore)
    print(
        f"{samples:,} samples in {secs:.2f} s = {samples / secs:,.0f} samples/s "
        f"({args.hosts} hosts x {args.ticks} ticks, {samples // (args.hosts * args.ticks)} "
        f"samples/batch, {events} transitions, state encoded: {args.orjson or args.restore}, "
        f"decoded: {args.restore})"
    )


if __name__ == "__main__":
    main()
