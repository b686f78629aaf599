"""Past one machine on a 3-broker cluster: samples/s with 1, 2 and 3 stream workers, and
how long a SIGKILLed worker's and a SIGKILLed notifier's partitions wait (issue 16).

    .venv/bin/python bench/scaleout.py [--quick] [--workers 1,2,3]

The cluster: $GAMSI_BENCH_CLUSTER (the bootstrap list of a running cluster) if set,
otherwise three KRaft nodes of its own on 127.0.0.1:28600/28602/28604 (controllers on
the odd ports) in a temporary directory, stopped at the end.

Throughput, per worker count N: N `gamsi streams run` processes form a group on topics
of their own; once the group is stable with N members they are paused (SIGSTOP), the
backlog of bench/streams_throughput.py (--hosts × --batches × --samples) is produced,
they resume (SIGCONT), and samples/s is read off their events as there. The pause keeps
the rebalances of workers joining one by one out of the figure ([streams]
session_timeout is 60 s for these runs so that the pause costs no membership).

Failover: 3 workers and 2 notifiers (one webhook receiver on loopback) under a load of
--fleet-hosts hosts, one batch a second each, every host changing state every --half s,
so that every partition has events all the time. A worker is SIGKILLed: per metrics
partition, the time from the kill to the first severity event appended for a batch
sent after it (the moved partitions are the slow ones: their hosts judged again). Then
a notifier: per events partition, the time from the kill to the first webhook request
carrying an event of it produced after the kill. Both printed with the session timeouts.
On 2 cores the brokers, workers, notifiers and the load generator share the CPU: the
throughput cannot scale linearly here; see docs/scaling.md for what to expect on more.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable
from dataclasses import replace
from pathlib import Path
from typing import TypeVar

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError, UnknownTopicOrPartitionError
from aiokafka.partitioner import murmur2
from benchlib import Child, guard, load_average
from streams_load import Events, bench_settings, produce_all
from streams_throughput import backlog, judged_rate, start_worker

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.support.fleet

from gamsi.settings import Settings, load_settings
from gamsi.testing.http import HttpCapture
from gamsi.topics import ensure_topics
from tests.support import fleet as support

T = TypeVar("T")
CLUSTER_PORT = 28600  # below the ephemeral ports (32768-60999) clients bind
AIOKAFKA_SESSION_TIMEOUT = 10.0
"""aiokafka's default session_timeout_ms, the notifier's when it sets none."""


def partition_of(host: str, partitions: int) -> int:
    """The partition a host's records go to (Kafka's default partitioner: murmur2)."""
    return (murmur2(host.encode()) & 0x7FFFFFFF) % partitions


async def group_members(bootstrap: str, group: str) -> tuple[str, int]:
    """(state, members) of a consumer group: ('Stable', 3) once a rebalance is over;
    ('', 0) while the cluster cannot tell (no group coordinator yet on a new cluster)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        (response,) = await admin.describe_consumer_groups([group])
        _, _, state, _, _, members, *_ = response.groups[0]
        return state, len(members)
    except KafkaError:
        return "", 0
    finally:
        await admin.close()


async def until_stable(bootstrap: str, group: str, members: int, *children: Child) -> None:
    """Wait (at most 180 s) until ``group`` is Stable with ``members`` members."""
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if await guard(group_members(bootstrap, group), *children) == ("Stable", members):
            return
        await asyncio.sleep(0.5)
    raise SystemExit(f"bench: group {group} not stable with {members} members within 180 s")


async def unless_stalled(
    awaitable: Awaitable[T], settings: Settings, topic: str, quiet: float = 30.0
) -> T:
    """Await ``awaitable``; SystemExit naming the partition when one of ``topic`` stays
    behind its end with its committed offset unmoved for ``quiet`` s (a worker that stopped
    fetching it: faust-streaming 0.15, docs/operations.md), instead of waiting it out."""
    task = asyncio.ensure_future(awaitable)
    seen: dict[int, tuple[int, float]] = {}
    try:
        while not task.done():
            await asyncio.wait({task}, timeout=5)
            with contextlib.suppress(KafkaError):
                for p, (done, end) in (
                    await support.committed_lag(settings, settings.streams.app_id, topic)
                ).items():
                    if done >= end or seen.get(p, (None,))[0] != done:
                        seen[p] = (done, time.monotonic())
                    elif time.monotonic() - seen[p][1] > quiet:
                        raise SystemExit(
                            f"bench: {topic}[{p}] stalled: committed {done} of {end}, unmoved "
                            f"for {quiet:.0f} s (faust-streaming 0.15; docs/operations.md)"
                        )
        return task.result()
    finally:
        task.cancel()


async def events_reader(settings: Settings) -> Events:
    """streams_load.Events, started: on a new cluster a broker can answer
    UnknownTopicOrPartition for a topic created an instant ago, and a consumer that
    failed to start is stopped (its fetcher task would hang the event loop's shutdown)."""
    for _ in range(100):
        events = Events(settings)
        try:
            await asyncio.wait_for(events.consumer.start(), 30)
            return events
        except (UnknownTopicOrPartitionError, TimeoutError):
            await events.consumer.stop()
            await asyncio.sleep(0.3)
    raise SystemExit(f"bench: {settings.kafka.events_topic} unknown to the cluster for 30 s")


async def throughput(bootstrap: str, tmp: Path, args: argparse.Namespace, workers: int) -> float:
    """samples/s of ``workers`` workers judging the backlog together (module docstring)."""
    s = bench_settings(bootstrap, tmp, f"so{workers}-" + uuid.uuid4().hex[:6], args.partitions)
    s = replace(s, streams=replace(s.streams, session_timeout=60.0))
    await ensure_topics(s)
    children: list[Child] = []
    events: Events | None = None
    try:
        for w in range(workers):
            own = replace(s, paths=replace(s.paths, data_dir=f"{s.paths.data_dir}-{w}"))
            children.append(start_worker(own, tmp / f"worker-{workers}-{w}.log", args))
        await until_stable(bootstrap, s.streams.app_id, workers, *children)
        events = await events_reader(s)  # reads from the start: its topic is settled by now
        for child in children:
            child.proc.send_signal(signal.SIGSTOP)
        try:
            await produce_all(s, backlog(args))
        finally:
            for child in children:
                child.proc.send_signal(signal.SIGCONT)
        judged = events.until(2 * args.hosts, within=600)
        got = await guard(unless_stalled(judged, s, s.kafka.metrics_topic), *children)
    finally:
        if events is not None:
            await events.consumer.stop()
        for child in children:
            child.stop()
    rate, first, last = judged_rate(got, args, children[0].log)
    print(
        f"  {workers} worker(s): {rate:,.0f} samples/s ({last - first:.1f} s; {load_average()})",
        flush=True,
    )
    return rate


def gaps(after: float, arrivals: list[tuple[float, int]], partitions: int) -> dict[int, float]:
    """Per partition: seconds from ``after`` to its first arrival (time, partition) after it."""
    out: dict[int, float] = {}
    for at, p in sorted(arrivals):
        if at > after and p not in out:
            out[p] = at - after
    return {p: out.get(p, float("inf")) for p in range(partitions)}


def show(what: str, moved: dict[int, float], timeout: float, setting: str) -> float:
    worst = max(moved.values())
    each = ", ".join(f"p{p} {g:.1f}" for p, g in sorted(moved.items()))
    print(f"  {what}: {worst:.1f} s (per partition, s: {each}); {setting} = {timeout:g} s")
    return worst


async def failover(bootstrap: str, tmp: Path, args: argparse.Namespace) -> None:
    parts = args.partitions
    async with HttpCapture() as hook:
        base = load_settings(environ={})
        s = support.fleet_settings(base, bootstrap, tmp, "fo-" + uuid.uuid4().hex[:6], parts)
        s = replace(
            s, notifier=replace(s.notifier, routing_file=str(support.routing_file(tmp, hook.url)))
        )
        await ensure_topics(s)
        load = support.Load(args.fleet_hosts, interval=1.0, half=args.half, prefix="fo")
        with support.Fleet(s, tmp) as fleet:
            for i in (1, 2, 3):  # one at a time, as docs/operations.md advises
                fleet.start("streams", f"streams-{i}")
                await until_stable(bootstrap, s.streams.app_id, i, *fleet.procs.values())
            for i in (1, 2):
                fleet.start("notifier", f"notifier-{i}")
            producing = asyncio.create_task(load.run(s, float("inf")))
            async with support.EventLog(s) as log:

                async def judged_since(t: float) -> bool:
                    await log.poll()
                    late = [(a, p) for a, p, e in log.appended if e.ts > t]
                    return max(gaps(t, late, parts).values()) < float("inf")

                def notified_since(t: float) -> bool:
                    return max(gaps(t, webhook(hook, t, parts), parts).values()) < float("inf")

                started = time.time()
                await fleet.until(lambda: judged_since(started), "every partition judged", 180)
                await fleet.until(lambda: notified_since(started), "every partition told", 180)
                killed = time.time()
                fleet.kill("streams-2")
                await fleet.until(lambda: judged_since(killed), "judged again", 180)
                late = [(a, p) for a, p, e in log.appended if e.ts > killed]
                worker = gaps(killed, late, parts)
                fleet.restart("streams-2")
                await until_stable(bootstrap, s.streams.app_id, 3)
                await fleet.until(lambda: notified_since(time.time() - 1), "told again", 180)
                killed = time.time()
                fleet.kill("notifier-1")
                await fleet.until(lambda: notified_since(killed), "notified again", 180)
                notifier = gaps(killed, webhook(hook, killed, parts), parts)
            producing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await producing
    print(f"failover: 3 workers, 2 notifiers, {args.fleet_hosts} hosts ({load_average()})")
    show("worker SIGKILLed -> every metrics partition judged again", worker,
         s.streams.session_timeout, "[streams] session_timeout")  # fmt: skip
    timeout = getattr(s.notifier, "session_timeout", AIOKAFKA_SESSION_TIMEOUT)
    show("notifier SIGKILLed -> every events partition notified again", notifier, timeout,
         "notifier session timeout")  # fmt: skip


def webhook(hook: HttpCapture, after: float, partitions: int) -> list[tuple[float, int]]:
    """(arrival, events partition) per event in a webhook request, for events after ``after``."""
    return [
        (r.at, partition_of(e["host"], partitions))
        for r in hook.requests
        for e in r.json()["events"]
        if e["ts"] > after
    ]


async def main_async(bootstrap: str, tmp: Path, args: argparse.Namespace) -> None:
    print(
        f"throughput: {args.hosts:,} hosts × {args.batches} batches × {args.samples} samples "
        f"on {bootstrap}, {args.partitions} partitions",
        flush=True,
    )
    rates = {w: await throughput(bootstrap, tmp, args, w) for w in args.workers}
    one = rates.get(1)
    if one:
        print("  scaling: " + ", ".join(f"{w}: {r / one:.2f}×" for w, r in rates.items()))
    if not args.skip_failover:
        await failover(bootstrap, tmp, args)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="a smaller backlog and fleet")
    parser.add_argument("--workers", default="1,2,3", help="worker counts to measure")
    parser.add_argument("--hosts", type=int, help="backlog hosts (default 2000, quick 1000)")
    parser.add_argument("--batches", type=int, help="batches per host (default 10, quick 5)")
    parser.add_argument("--samples", type=int, default=100, help="samples per batch")
    parser.add_argument("--partitions", type=int, default=6)
    parser.add_argument("--fleet-hosts", type=int, default=300, help="hosts of the failover load")
    parser.add_argument("--half", type=float, default=10.0, help="s between a host's changes")
    parser.add_argument("--skip-failover", action="store_true")
    parser.add_argument("--keep", type=Path, help="keep the logs in this directory")
    parser.set_defaults(slow_callbacks=False, diagnose=False)  # streams_throughput.start_worker
    args = parser.parse_args()
    logging.getLogger("aiokafka").setLevel(logging.ERROR)  # leader moves on new topics: noise
    args.workers = [int(w) for w in args.workers.split(",")]
    args.hosts = args.hosts or (1000 if args.quick else 2000)
    args.batches = args.batches or (5 if args.quick else 10)
    with tempfile.TemporaryDirectory(prefix="gamsi-scaleout-") as d:
        tmp = args.keep or Path(d)
        tmp.mkdir(parents=True, exist_ok=True)
        given = os.environ.get("GAMSI_BENCH_CLUSTER")
        if given:
            asyncio.run(main_async(given, tmp, args))
            return
        from gamsi.kafka_cluster import throwaway_cluster

        print(f"bench: starting 3 brokers of its own on 127.0.0.1:{CLUSTER_PORT} ...", flush=True)
        with throwaway_cluster(tmp / "kafka", CLUSTER_PORT, nodes=3) as cluster:
            asyncio.run(main_async(cluster.bootstrap, tmp, args))


if __name__ == "__main__":
    main()
