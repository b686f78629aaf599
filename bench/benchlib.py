"""What every benchmark shares: the broker it runs against, and the processes it starts.

A benchmark must fail fast, never wait out a timeout on a process that already died:
:class:`Child` (gamsi.testing.process, shared with the tests) starts a process with its
output in a log file, and :func:`guard` (async) or :meth:`Child.sleep` (sync) wait on
something while checking every 0.2 s that each child still runs. When one has exited,
:class:`ChildDied` (a ``SystemExit``, so the script ends with its message) names it, its
exit code and the last lines of its log.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import statistics
import time
from collections.abc import Awaitable, Iterator, Sequence
from pathlib import Path
from typing import TypeVar

from gamsi.testing import process

T = TypeVar("T")
BENCH_PORT = 29192
"""The project's own throwaway broker for benchmarks (controller on the next port), below
Linux's ephemeral range (32768-60999) where an outgoing connection may hold a port."""


class ChildDied(SystemExit):
    """A process a benchmark started exited while the benchmark still needed it."""


class Child(process.Child):
    """A process started by a benchmark (gamsi.testing.process.Child): output to ``log``,
    stopped with SIGTERM on exit; :meth:`check` ends the benchmark with :class:`ChildDied`."""

    died = ChildDied


async def guard(awaitable: Awaitable[T], *children: process.Child, poll: float = 0.2) -> T:
    """Await ``awaitable`` while every child runs; the child's ``died`` (:class:`ChildDied`
    for a benchmark's) as soon as one exits (the awaitable is cancelled)."""
    task = asyncio.ensure_future(awaitable)
    try:
        while True:
            done, _ = await asyncio.wait({task}, timeout=poll)
            if done:
                return task.result()
            for child in children:
                child.check()
    finally:
        if not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


@contextlib.contextmanager
def bench_broker(tmp: Path, port: int = BENCH_PORT) -> Iterator[str]:
    """The broker to measure against: ``$GAMSI_BENCH_BOOTSTRAP`` when set, otherwise the
    project's own broker started in ``tmp`` on ``port`` and stopped on exit. Call it
    outside any running event loop (starting the broker waits for it synchronously)."""
    given = os.environ.get("GAMSI_BENCH_BOOTSTRAP")
    if given:
        yield given
        return
    from gamsi.kafka_broker import throwaway_broker

    print(f"bench: starting a broker of its own on 127.0.0.1:{port} ...", flush=True)
    with throwaway_broker(tmp / "kafka", port) as bootstrap:
        yield bootstrap


def spread(values: Sequence[float]) -> tuple[float, float, float, float]:
    """(min, median, p95, max) of ``values``; p95 is the nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[0], statistics.median(ordered), percentile(ordered, 95), ordered[-1]


def percentile(ordered: Sequence[float], p: float) -> float:
    """Nearest-rank percentile of an ascending sequence (NIST: rank ceil(p/100 * n))."""
    rank = max(1, -(-len(ordered) * p // 100))
    return ordered[int(rank) - 1]


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` and its threads so far (/proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(") ", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def trace_cpu(pid: int, into: list[tuple[float, float]], every: float = 0.1) -> None:
    """Append (wall time, CPU seconds of ``pid``) every ``every`` s until cancelled."""
    with contextlib.suppress(OSError):
        while True:
            into.append((time.time(), cpu_seconds(pid)))
            await asyncio.sleep(every)


def cpu_between(trace: list[tuple[float, float]], t0: float, t1: float) -> float:
    """CPU seconds the traced process used between wall times ``t0`` and ``t1``."""
    inside = [c for t, c in trace if t0 <= t <= t1]
    before = [c for t, c in trace if t < t0]
    after = [c for t, c in trace if t > t1]
    start = before[-1] if before else (inside[0] if inside else 0.0)
    end = after[0] if after else (inside[-1] if inside else start)
    return end - start


def load_average() -> str:
    """The 1/5/15-minute load averages, for printing beside figures."""
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f}"
