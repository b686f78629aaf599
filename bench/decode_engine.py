"""Samples per second through the stream worker's per-record work, without Kafka or Faust.

Each record goes through exactly what the ``evaluate`` agent calls per message —
:func:`gamsi.streams.worker.judge_batch`: decode and validate the bytes, check the bounds,
place and judge the batch with the host's state, write the state back (a plain dict
stands for the Faust table) — and, with ``--changelog``, the state's changelog form that
the table's codec writes per batch. Two batch shapes:

- ``bench`` (default): what bench/streams_throughput.py produces, one ``cpu.util`` and
  99 items no watch names, judged by that bench's one-watch policy;
- ``linux``: bench/engine_pure.py's real Linux tick (83 samples) judged by the shipped
  Linux defaults.

Run:

    .venv/bin/python bench/decode_engine.py [--shape bench|linux] [--hosts 1000] [--ticks 20]
        [--changelog] [--profile]

It prints the decode alone and decode + judge, as samples/s and µs per batch (the least
CPU time of ``--repeat`` runs), so a change to the codec or the engine can be measured on
a shared machine.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import random
import time
from collections.abc import Callable
from pathlib import Path

from engine_pure import batch as linux_batch
from streams_load import POLICY
from streams_load import batch as bench_batch

from gamsi.schemas import encode
from gamsi.schemas.codec import decode_metric_batch
from gamsi.streams.engine import Engine
from gamsi.streams.policy import load_policy
from gamsi.streams.worker import dump_state, judge_batch


def records(shape: str, hosts: int, ticks: int) -> tuple[Engine, list[bytes], int]:
    """(engine, encoded batches in arrival order, samples in all of them)."""
    rng = random.Random(7)
    t0 = time.time() - ticks * 10 - 60
    out = []
    for t in range(ticks):
        for h in range(hosts):
            name = f"host-{h:05d}"
            ts = t0 + 10 * t
            if shape == "linux":
                b = linux_batch(name, ts, rng, h % 10 == 0)
                b.seq = t
                out.append(encode(b))
            else:
                cpu = 95.0 if t == 0 else (5.0 if t == ticks - 1 else 50.0)  # as the backlog
                out.append(bench_batch(name, ts, cpu, 100))
    if shape == "linux":
        engine = Engine(load_policy(None, "linux"))
    else:
        path = Path("/tmp/gamsi-bench-decode-policy.yaml")
        path.write_text(POLICY)
        engine = Engine(load_policy(str(path), "linux"))
    samples = sum(len(decode_metric_batch(r).samples) for r in out[:hosts]) * ticks
    return engine, out, samples


def timed(fn: Callable[[], None], repeat: int) -> float:
    """The least CPU time (s) of ``repeat`` runs of ``fn``: CPU time, not wall time, so
    that other processes on a shared machine change the figure little."""
    best = float("inf")
    for _ in range(repeat):
        start = time.process_time()
        fn()
        best = min(best, time.process_time() - start)
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shape", choices=("bench", "linux"), default="bench")
    ap.add_argument("--hosts", type=int, default=1000)
    ap.add_argument("--ticks", type=int, default=20)
    ap.add_argument("--repeat", type=int, default=3, help="best of this many runs")
    ap.add_argument("--changelog", action="store_true", help="also encode the state per batch")
    ap.add_argument("--profile", action="store_true", help="print the top of a cProfile run")
    args = ap.parse_args()
    engine, data, samples = records(args.shape, args.hosts, args.ticks)
    n = len(data)

    def decode_all() -> None:
        for value in data:
            decode_metric_batch(value, columns=True)  # as judge_batch decodes

    def judge_all() -> None:
        table: dict = {}
        for value in data:
            host, _ = judge_batch(engine, table, value, 0)
            if args.changelog:
                dump_state(table[host])

    if args.profile:
        prof = cProfile.Profile()
        prof.runcall(judge_all)
        pstats.Stats(prof).sort_stats("tottime").print_stats(14)
        return
    for name, fn in (("decode", decode_all), ("decode + judge", judge_all)):
        secs = timed(fn, args.repeat)
        print(
            f"{name:>15}: {samples / secs:>11,.0f} samples/s  {secs / n * 1e6:6.1f} µs/batch  "
            f"({args.shape}: {n:,} batches of {samples // n} samples, best of {args.repeat}"
            f"{', changelog form per batch' if args.changelog else ''})",
            flush=True,
        )


if __name__ == "__main__":
    main()
