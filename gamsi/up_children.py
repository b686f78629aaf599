"""`gamsi up`'s processes: each service restarted with backoff, a crash loop called DOWN.

How a service's exit is read (its exit codes come from :func:`gamsi.cli.main`):

* **78** (a configuration error) or **2** (a user error: a key file, a port in
  use): restarting cannot help. Before everything is ready `gamsi up` stops and
  prints the service's error line (:attr:`Child.fatal`); later the service is DOWN.
* **75** (Kafka unreachable): not a crash. Restarted after a backoff, with at most
  one line a minute, while the supervisor brings the broker back.
* anything else is a crash: restarted after 1, 2, 4 ... 30 s. :data:`CRASH_LIMIT`
  crashes within :data:`CRASH_WINDOW` seconds make it DOWN: a loud line with its
  last output, then one more try every :data:`DOWN_RETRY` seconds, each announced
  (Monit's "N restarts within M cycles", systemd's ``StartLimitBurst``).

The broker that `gamsi up` started is watched the same way (:func:`watch_broker`).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from gamsi.kafka_errors import EXIT_UNREACHABLE
from gamsi.readiness import Probe

EXIT_CONFIG = 78
FATAL_CODES = frozenset({2, EXIT_CONFIG})
CRASH_LIMIT = 5
CRASH_WINDOW = 600.0
DOWN_RETRY = 300.0
FIRST_BACKOFF = 1.0
"""Seconds before the first restart; doubled per quick crash up to BACKOFF_CAP."""
BACKOFF_CAP = 30.0
QUIET_PERIOD = 60.0
"""Seconds between two "Kafka unreachable, restarting" lines of one service."""
HEALTHY_RUN = 60.0
"""A run this long (seconds) resets the backoff to 1 s."""


def say(text: str) -> None:
    """One line of `gamsi up` itself on stderr (its services' output is on stdout)."""
    print(f"gamsi: {text}", file=sys.stderr, flush=True)


@dataclass
class Child:
    """One service process under `gamsi up`: its command, log file and state."""

    name: str
    argv: list[str]
    log_path: Path
    log: BinaryIO
    probe: Probe = field(default_factory=Probe)
    proc: asyncio.subprocess.Process | None = None
    restarts: int = 0
    ready_at: float | None = None
    started_at: float = 0.0
    """When the process was last started (monotonic s): a restart's readiness counts from it."""
    down: bool = False
    fatal: str | None = None
    tail: collections.deque[str] = field(default_factory=lambda: collections.deque(maxlen=30))
    crashes: collections.deque[float] = field(default_factory=collections.deque)
    _quiet_said: float = -QUIET_PERIOD

    def last_error(self) -> str:
        """The service's own error line (``gamsi: error: ...``), else its last line."""
        lines = [x for x in self.tail if x.strip()]
        errors = [x for x in lines if x.startswith("gamsi: ")]
        return (errors or lines or ["(no output)"])[-1].strip()

    def running(self) -> bool:
        return self.proc is not None and self.proc.returncode is None


async def _pump(child: Child, stream: asyncio.StreamReader, echo: bool) -> None:
    prefix = f"[{child.name:9}] "
    while line := await stream.readline():
        child.log.write(line)
        child.log.flush()
        text = line.decode("utf-8", "replace")
        child.tail.append(text.rstrip("\n"))
        if echo:
            sys.stdout.write(prefix + text)
            sys.stdout.flush()


async def run_child(
    child: Child, stop: asyncio.Event, fatal: asyncio.Event, all_ready: asyncio.Event, echo: bool
) -> None:
    """Run ``child`` until ``stop``; restart it as the module docstring says. Sets
    ``fatal`` (and ``child.fatal``) when it refuses to start before ``all_ready``."""
    backoff = FIRST_BACKOFF
    while not stop.is_set():
        started = child.started_at = time.monotonic()
        child.proc = await asyncio.create_subprocess_exec(
            *child.argv,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            stdin=asyncio.subprocess.DEVNULL,
        )
        assert child.proc.stdout is not None
        pump = asyncio.create_task(_pump(child, child.proc.stdout, echo))
        code = await child.proc.wait()
        await pump
        child.ready_at = None
        if stop.is_set():
            return
        if code in FATAL_CODES:
            if not all_ready.is_set():
                child.fatal = child.last_error()
                fatal.set()
                return
            child.down = True
            say(f"DOWN: {child.name} refused to start (exit code {code}): {child.last_error()}")
            return
        now = time.monotonic()
        backoff = FIRST_BACKOFF if now - started > HEALTHY_RUN else min(backoff * 2, BACKOFF_CAP)
        delay = backoff
        if code == EXIT_UNREACHABLE:
            if now - child._quiet_said >= QUIET_PERIOD:
                child._quiet_said = now
                say(f"{child.name}: Kafka unreachable; restarting it when the broker answers")
        else:
            child.restarts += 1
            child.crashes.append(now)
            while child.crashes and now - child.crashes[0] > CRASH_WINDOW:
                child.crashes.popleft()
            if len(child.crashes) >= CRASH_LIMIT:
                child.down = True
                delay = DOWN_RETRY
                say(
                    f"DOWN: {child.name} crashed {len(child.crashes)} times in "
                    f"{now - child.crashes[0]:.0f} s (last exit code {code}): "
                    f"{child.last_error()} — next try in {delay:.0f} s (log: {child.log_path})"
                )
            else:
                say(
                    f"{child.name} exited with code {code}; restarting in {delay:.0f} s "
                    f"(log: {child.log_path})"
                )
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), delay)
        if child.down and not stop.is_set():
            say(f"{child.name}: trying again after being DOWN")


async def watch_broker(broker: Any, stop: asyncio.Event, period: float = 1.0) -> None:
    """Restart the local broker ``broker`` (a started :class:`~gamsi.kafka_broker.LocalBroker`)
    whenever its process exits, until ``stop``; a broker that will not come back is
    retried with backoff (capped at 30 s) and each failure is said once."""
    from gamsi.kafka_broker import BrokerError

    backoff = 1.0
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), period)
        proc = broker._proc
        if stop.is_set() or proc is None or proc.poll() is None:
            continue
        say(f"Kafka exited with code {proc.returncode}; restarting it (log: {broker.log_file})")
        began = time.monotonic()
        try:
            await asyncio.to_thread(broker.start)
        except BrokerError as exc:
            say(f"DOWN: Kafka did not come back: {exc}; next try in {backoff:.0f} s")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), backoff)
            backoff = min(backoff * 2, BACKOFF_CAP)
            continue
        backoff = 1.0
        say(f"Kafka is back (pid {broker.pid()}) after {time.monotonic() - began:.1f} s")


async def terminate(children: list[Child], grace: float) -> None:
    """SIGTERM each child in reverse start order (history, the store owner, last),
    SIGKILL after ``grace`` seconds."""
    for child in reversed(children):
        if child.running():
            assert child.proc is not None
            child.proc.terminate()
            try:
                await asyncio.wait_for(child.proc.wait(), grace)
            except TimeoutError:
                child.proc.kill()
                await child.proc.wait()


@contextlib.contextmanager
def ticking(what: str | Callable[[], str], every: float = 10.0) -> Iterator[None]:
    """Say ``what ... (N s)`` every ``every`` seconds while the block runs (a slow first
    download must not look like a hang); ``what`` may be a function, called each time."""
    done = threading.Event()
    began = time.monotonic()

    def tick() -> None:
        while not done.wait(every):
            text = what() if callable(what) else what
            say(f"  ... {text} ({time.monotonic() - began:.0f} s)")

    thread = threading.Thread(target=tick, daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()
