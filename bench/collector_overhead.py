"""Collector overhead against node_exporter, side by side in one run.

Starts ``python -m gamsi.collector run`` (what the systemd unit runs; 1 s
interval, publishing to the real broker, aiokafka loaded) and Prometheus
node_exporter on 127.0.0.1 scraped every second, lets both warm up, then
measures each process over the same window:

* CPU per collection: nanoseconds on CPU from ``/proc/PID/task/*/schedstat``
  (summed over threads: node_exporter is a multi-threaded Go program), divided
  by the collections in the window (batches that reached Kafka / scrapes that
  answered). ``/proc/PID/stat`` (10 ms ticks, but counting exited threads) is
  printed too as a cross-check.
* Resident memory: VmRSS at the end, and the peak VmHWM.

Run (broker on 127.0.0.1:29092 here; `gamsi kafka start` gives one on 9092):

    .venv/bin/python bench/collector_overhead.py --bootstrap 127.0.0.1:29092 --seconds 60
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import socket
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from pathlib import Path

from benchlib import Child

CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_ns(pid: int) -> int:
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            total += int((task / "schedstat").read_text().split()[0])
        except (OSError, IndexError, ValueError):
            continue  # a thread that just exited
    return total


def stat_ns(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * 1_000_000_000 // CLK_TCK


def status_kib(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    raise KeyError(key)


def reading(agent: int, node: int, scraper: Scraper) -> tuple[int, int, int, int, int]:
    return cpu_ns(agent), cpu_ns(node), stat_ns(agent), stat_ns(node), scraper.count


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, within: float, server: Child) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=1).read()
            return
        except OSError:
            server.sleep(0.1)
    raise SystemExit(f"node_exporter did not answer on {url}")


class Scraper(threading.Thread):
    """Prometheus' side: GET /metrics every second with gzip, counting answered scrapes."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.count = 0
        self.stop = threading.Event()

    def run(self) -> None:
        request = urllib.request.Request(self.url, headers={"Accept-Encoding": "gzip"})
        next_t = time.monotonic()
        while not self.stop.is_set():
            with urllib.request.urlopen(request, timeout=5) as resp:
                resp.read()
            self.count += 1
            next_t += 1.0
            self.stop.wait(max(0.0, next_t - time.monotonic()))


async def count_batches(bootstrap: str, topic: str, host: str, t0: float, t1: float) -> int:
    from aiokafka import AIOKafkaConsumer

    from gamsi.schemas.codec import decode_metric_batch

    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    n = 0
    try:
        while True:
            got = await consumer.getmany(timeout_ms=3000)
            if not got:
                return n
            for records in got.values():
                for r in records:
                    b = decode_metric_batch(r.value)
                    n += b.host == host and t0 <= b.ts < t1
    finally:
        await consumer.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--bootstrap", default=os.environ.get("GAMSI_KAFKA_BOOTSTRAP", "127.0.0.1:9092")
    )
    parser.add_argument("--seconds", type=float, default=60.0, help="measured window")
    parser.add_argument("--warmup", type=float, default=5.0)
    args = parser.parse_args()
    exporter = shutil.which("prometheus-node-exporter") or shutil.which("node_exporter")
    if exporter is None:
        raise SystemExit("install node_exporter: apt-get install -y prometheus-node-exporter")

    run_id = uuid.uuid4().hex[:8]
    host, topic = f"bench-{run_id}", f"bench-{run_id}.metrics"
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="gamsi-bench-") as tmp:
        env = {
            **os.environ,
            "GAMSI_KAFKA_BOOTSTRAP": args.bootstrap,
            "GAMSI_KAFKA_METRICS_TOPIC": topic,
            "GAMSI_KAFKA_EVENTS_TOPIC": f"bench-{run_id}.events",
            "GAMSI_KAFKA_DEADLETTER_TOPIC": f"bench-{run_id}.deadletter",
            "GAMSI_KAFKA_PARTITIONS": "1",
            "GAMSI_COLLECTOR_HOST": host,
            "GAMSI_COLLECTOR_INTERVAL": "1",
            "GAMSI_PATHS_DATA_DIR": tmp,
            "MALLOC_ARENA_MAX": "2",  # as in the systemd unit
        }
        env.pop("GAMSI_CONFIG", None)
        agent = Child(  # what the systemd unit runs
            "collector",
            [sys.executable, "-m", "gamsi.collector", "run"],
            Path(tmp) / "agent.log",
            env,
        )
        node = Child(
            "node_exporter",
            [exporter, f"--web.listen-address=127.0.0.1:{port}"],
            Path(tmp) / "node_exporter.log",
        )
        scraper = Scraper(f"http://127.0.0.1:{port}/metrics")
        try:
            wait_http(scraper.url, 10, node)
            scraper.start()
            agent.sleep(args.warmup, node)
            t0 = time.time()
            a0, n0, sa0, sn0, s0 = reading(agent.pid, node.pid, scraper)
            agent.sleep(args.seconds, node)
            a1, n1, sa1, sn1, s1 = reading(agent.pid, node.pid, scraper)
            t1 = time.time()
            rss = {
                p: (status_kib(p.pid, "VmRSS"), status_kib(p.pid, "VmHWM")) for p in (agent, node)
            }
        finally:
            scraper.stop.set()
            if scraper.is_alive():
                scraper.join(10)
            agent.stop()
            node.stop()
        batches = asyncio.run(count_batches(args.bootstrap, topic, host, t0, t1))
    scrapes = s1 - s0
    rows = [
        ("gamsi collector (aiokafka)", batches, a1 - a0, sa1 - sa0, *rss[agent]),
        ("node_exporter (gzip scrape)", scrapes, n1 - n0, sn1 - sn0, *rss[node]),
    ]
    print(f"window {args.seconds:.0f} s, 1 s interval, {os.cpu_count()} CPUs")
    head = ("collections", "CPU ms/coll", "(stat)", "RSS MiB", "peak MiB")
    print(f"{'process':30} {head[0]:>11} {head[1]:>11} {head[2]:>8} {head[3]:>8} {head[4]:>8}")
    for name, n, ns, sns, vm_rss, hwm in rows:
        per = ns / n / 1e6 if n else float("nan")
        sper = sns / n / 1e6 if n else float("nan")
        print(f"{name:30} {n:11d} {per:11.2f} {sper:8.2f} {vm_rss / 1024:8.1f} {hwm / 1024:8.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
