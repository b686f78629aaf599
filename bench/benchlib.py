"""What every benchmark shares: the broker it runs against, and the processes it starts.

A benchmark must fail fast, never wait out a timeout on a process that already died:
:class:`Child` starts a process with its output in a log file, and :func:`guard` (async)
or :meth:`Child.sleep` (sync) wait on something while checking every 0.2 s that each
child still runs. When one has exited, :class:`ChildDied` (a ``SystemExit``, so the
script ends with its message) names it, its exit code and the last lines of its log.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import statistics
import subprocess
import time
from collections.abc import Awaitable, Iterator, Sequence
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")
BENCH_PORT = 49092
"""The project's own throwaway broker for benchmarks (controller on the next port)."""


class ChildDied(SystemExit):
    """A process a benchmark started exited while the benchmark still needed it."""


def tail(path: Path, lines: int = 25) -> str:
    """The last ``lines`` lines of a log file ('' when it cannot be read)."""
    try:
        data = path.read_bytes()[-65536:]
    except OSError:
        return ""
    return "\n".join(data.decode(errors="replace").splitlines()[-lines:])


class Child:
    """A process started by a benchmark: output to ``log``, stopped with SIGTERM on exit."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        log: Path,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
    ) -> None:
        self.name = name
        self.log = log
        with open(log, "wb") as out:
            self.proc = subprocess.Popen(
                list(argv),
                env=env,
                cwd=cwd,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # a Ctrl-C reaches the bench, which stops its children
            )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def check(self) -> None:
        """Raise :class:`ChildDied` with the log's last lines if the process has exited."""
        code = self.proc.poll()
        if code is not None:
            raise ChildDied(
                f"bench: {self.name} (pid {self.proc.pid}) exited with code {code}; "
                f"last lines of {self.log}:\n{tail(self.log)}"
            )

    def sleep(self, seconds: float, *others: Child) -> None:
        """Sleep, checking this child and ``others`` every 0.2 s."""
        deadline = time.monotonic() + seconds
        while True:
            for child in (self, *others):
                child.check()
            left = deadline - time.monotonic()
            if left <= 0:
                return
            time.sleep(min(0.2, left))

    def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM, then SIGKILL after ``timeout`` seconds."""
        if self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def __enter__(self) -> Child:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


async def guard(awaitable: Awaitable[T], *children: Child, poll: float = 0.2) -> T:
    """Await ``awaitable`` while every child runs; :class:`ChildDied` as soon as one exits
    (the awaitable is cancelled)."""
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
