"""A tick's cost grows with the hosts of its partition only, not with the fleet (issue 15).

    .venv/bin/python bench/ticks_scale.py [--repeat 5]

Pure code, no broker: the real rule engine with the shipped Linux defaults, one real
state per simulated host (one judged batch each), the hosts spread over the partitions
as the worker's host-state table holds them. For 10,000 and 100,000 hosts it times
`run_ticks` for one partition (median of --repeat ticks) with the partition index the
worker uses, and beside it the walk over the whole table that it replaced. At 100,000
hosts on 60 partitions a partition holds as many hosts as at 10,000 on 6: the indexed
tick must cost about the same there, while the whole-table walk costs ten times more.
"""

from __future__ import annotations

import argparse
import statistics
import time
import zlib
from collections.abc import Callable
from typing import Any

from gamsi.schemas.codec import encode
from gamsi.schemas.records import MetricBatch, Sample
from gamsi.streams import state as host_state
from gamsi.streams.engine import Engine
from gamsi.streams.policy import load_policy
from gamsi.streams.worker import HostsByPartition, judge_batch, run_ticks

SHAPES = [(10_000, 6), (100_000, 6), (100_000, 60)]  # (hosts, partitions)


def whole_table_walk(engine: Any, table: dict[str, Any], partition: int, now: float) -> None:
    """The tick before the index: every host of the table, filtered by partition."""
    for host, held in list(table.items()):
        if held is None or held["p"] != partition:
            continue
        new_state, transitions = engine.tick(held["s"], host, now, True)
        if transitions or not isinstance(held["s"], host_state.HostState):
            table[host] = {"p": partition, "s": new_state}


def fill(engine: Engine, hosts: int, partitions: int, now: float) -> HostsByPartition:
    table = HostsByPartition({})
    for h in range(hosts):
        host = f"host{h:06d}"
        body = [Sample("cpu.util", 20.0), Sample("mem.used_pct", 40.0)]
        batch = MetricBatch(host, now, body, 1, 10.0, "linux", run="bench")
        judge_batch(engine, table, encode(batch), zlib.crc32(host.encode()) % partitions, now=now)
    return table


def timed(fn: Callable[[float], object], repeat: int, now: float) -> float:
    """Median seconds of ``repeat`` calls of ``fn(now + i)``."""
    took = []
    for i in range(repeat):
        t = time.perf_counter()
        fn(now + 1 + i)
        took.append(time.perf_counter() - t)
    return statistics.median(took)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=5, help="ticks timed per figure")
    args = parser.parse_args()
    engine = Engine(load_policy(None, "linux"))
    now = float(int(time.time()))
    print(
        f"{'hosts':>8} {'partitions':>10} {'in partition':>12} {'indexed tick':>13} "
        f"{'per host':>9} {'whole-table walk':>17}"
    )
    for hosts, partitions in SHAPES:
        table = fill(engine, hosts, partitions, now)
        mine = len(table.hosts_of(0))
        indexed = timed(
            lambda t, table=table: run_ticks(engine, table, 0, t, True, lambda h, e: None),
            args.repeat,
            now,
        )
        walk = timed(
            lambda t, table=table: whole_table_walk(engine, table.table, 0, t), args.repeat, now
        )
        print(
            f"{hosts:8,d} {partitions:10d} {mine:12,d} {indexed * 1000:10.1f} ms "
            f"{indexed / mine * 1e6:6.1f} µs {walk * 1000:14.1f} ms"
        )
    print("target: the indexed tick's cost follows 'in partition', not 'hosts'")


if __name__ == "__main__":
    main()
