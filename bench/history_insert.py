"""Benchmark: rows/s into the embedded history store, and report latency on 10 M rows.

Targets (docs/PRODUCT.md): >= 500,000 rows/s inserted, report queries < 1 s on 10 M rows.

What it does, in a fresh chDB store in a temporary directory (this process owns it):

1. Inserts 1 M, 2 M and 5 M sample rows with columnar inserts in chunks of
   ``[history] batch_rows`` (50,000, what the writer does) into the real schema, so the
   1-minute rollup's materialized view runs on every insert, as in production.
2. Measures the writer's own conversion (MetricBatch → columns) separately.
3. Tops the table up to 10 M rows and times GROUP BY reports: top hosts by item from the
   raw samples and from the rollup (median of 5 runs).

Run: ``.venv/bin/python bench/history_insert.py [--rows 1000000,2000000,5000000]``
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from functools import partial
from pathlib import Path

from gamsi.history import reports
from gamsi.history.rows import Buffer, millis
from gamsi.history.schema import SAMPLES
from gamsi.history.store import Reader, open_client, open_store
from gamsi.schemas.records import MetricBatch, Sample
from gamsi.settings import load_settings

HOSTS = 1000
ITEMS = [f"item.{i}" for i in range(20)]
CHUNK = 50_000


def columns(n: int, start_ms: int, seed: int) -> list[list[object]]:
    """n sample rows over HOSTS x ITEMS, one row per (host, item) per second."""
    rnd = random.Random(seed)
    per_tick = HOSTS * len(ITEMS)
    hosts = [f"host-{i:04d}" for i in range(HOSTS)]
    return [
        [start_ms + (i // per_tick) * 1000 for i in range(n)],
        [hosts[(i // len(ITEMS)) % HOSTS] for i in range(n)],
        [ITEMS[i % len(ITEMS)] for i in range(n)],
        [""] * n,
        [rnd.random() * 100 for _ in range(n)],
        [[]] * n,
    ]


def insert(client: object, cols: list[list[object]]) -> float:
    """Insert in CHUNK-row batches; returns seconds."""
    n = len(cols[0])
    names = list(SAMPLES.columns)
    t0 = time.perf_counter()
    for lo in range(0, n, CHUNK):
        client.insert(  # type: ignore[attr-defined]
            "samples",
            [c[lo : lo + CHUNK] for c in cols],
            column_names=names,
            column_oriented=True,
        )
    return time.perf_counter() - t0


def conversion_rate(n_batches: int = 20_000, per_batch: int = 50) -> float:
    """Rows/s of the writer's MetricBatch → columns step (pure Python)."""
    batches = [
        MetricBatch(
            host=f"host-{b % HOSTS}",
            ts=time.time(),
            samples=[Sample(f"item.{s}", float(s)) for s in range(per_batch)],
        )
        for b in range(n_batches)
    ]
    buf = Buffer()
    t0 = time.perf_counter()
    for batch in batches:
        buf.add_batch(batch)
    return len(buf) / (time.perf_counter() - t0)


def median_seconds(fn: Callable[[], object], runs: int = 5) -> float:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default="1000000,2000000,5000000")
    parser.add_argument("--total", type=int, default=10_000_000, help="rows for the queries")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="gamsi-bench-") as tmp:
        base = load_settings(environ={})
        settings = replace(base, history=replace(base.history, dsn=f"chdb://{Path(tmp)}/store"))
        client = open_store(settings)
        now_ms = millis(time.time()) - 3_600_000
        inserted = 0
        print(f"chDB {client.server_version}, chunks of {CHUNK:,} rows, rollup view on")
        for n in (int(x) for x in args.rows.split(",")):
            cols = columns(n, now_ms, seed=n)
            seconds = insert(client, cols)
            inserted += n
            print(f"insert {n:>10,} rows: {seconds:6.2f} s  {n / seconds:>12,.0f} rows/s")
        print(f"writer conversion (MetricBatch -> columns): {conversion_rate():,.0f} rows/s")
        while inserted < args.total:
            n = min(2_000_000, args.total - inserted)
            insert(client, columns(n, now_ms + inserted // 20, seed=inserted))
            inserted += n
        client.command("OPTIMIZE TABLE samples_1m FINAL")
        reader = Reader(open_client(settings, read_only=True))
        count = reader("SELECT count() FROM samples").rows[0][0]
        raw_sql = (
            "SELECT host, avg(value) AS a, max(value) FROM samples WHERE item = 'item.3' "
            "GROUP BY host ORDER BY a DESC LIMIT 10"
        )
        all_items = "SELECT item, host, avg(value), max(value) FROM samples GROUP BY item, host"
        print(f"queries on {count:,} raw rows (median of 5):")
        raw = median_seconds(partial(reader, raw_sql))
        print(f"  top hosts by item, raw samples:   {raw:.3f} s")
        wide = median_seconds(partial(reader, all_items))
        print(f"  avg/max per item x host, raw:     {wide:.3f} s")
        top = partial(reports.top_hosts, reader, item="item.3", hours=2)
        print(f"  top hosts by item, 1-min rollup:  {median_seconds(top):.3f} s")
        every = partial(reports.all_reports, reader, hours=2, item="item.3")
        print(f"  all four reports (gamsi history report): {median_seconds(every):.3f} s")
        reader.close()
        client.close()


if __name__ == "__main__":
    main()
