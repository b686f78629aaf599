"""`gamsi up`: the whole pipeline on this machine, in one foreground command.

It starts the local Kafka broker (unless ``[kafka] bootstrap`` points elsewhere),
creates the topics, then runs every Gamsi service as its own process — history
first, because with the embedded engine it must own the ClickHouse store — and
multiplexes their output with a prefix while also writing one log file per
service. A service that dies is restarted with backoff; Ctrl-C or SIGTERM stops
the services (SIGTERM, then SIGKILL after a grace period) and the broker it started.
Separate processes mirror production, where each service is its own unit.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from gamsi.kafka_auth import kafka_client_options
from gamsi.settings import Settings

SERVICES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("history", ("history", "run")),
    ("streams", ("streams", "run")),
    ("notifier", ("notifier", "run")),
    ("remediator", ("remediator", "run")),
    ("collector", ("collector", "run")),
    ("web", ("web", "run")),
)
GRACE_SECONDS = 20.0


@dataclass
class Child:
    name: str
    argv: list[str]
    log_path: Path
    log: BinaryIO
    proc: asyncio.subprocess.Process | None = None
    restarts: int = 0


def _uses_local_broker(settings: Settings) -> bool:
    return settings.kafka.bootstrap.strip() in {
        f"127.0.0.1:{settings.broker.port}",
        f"localhost:{settings.broker.port}",
    }


async def _pump(child: Child, stream: asyncio.StreamReader, echo: bool) -> None:
    prefix = f"[{child.name:9}] "
    while line := await stream.readline():
        child.log.write(line)
        child.log.flush()
        if echo:
            sys.stdout.write(prefix + line.decode("utf-8", "replace"))
            sys.stdout.flush()


async def _run_child(child: Child, stop: asyncio.Event, echo: bool) -> None:
    backoff = 1.0
    while not stop.is_set():
        started = time.monotonic()
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
        if stop.is_set():
            return
        backoff = 1.0 if time.monotonic() - started > 60 else min(backoff * 2, 30.0)
        child.restarts += 1
        print(
            f"gamsi: {child.name} exited with code {code}; restarting in {backoff:.0f} s "
            f"(log: {child.log_path})",
            file=sys.stderr,
        )
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), backoff)


async def _terminate(children: list[Child]) -> None:
    for child in reversed(children):  # collector first, history (the store owner) last
        if child.proc and child.proc.returncode is None:
            child.proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(child.proc.wait(), GRACE_SECONDS)
            except TimeoutError:
                child.proc.kill()
                await child.proc.wait()


async def supervise(
    settings: Settings, config: str | None, only: list[str], echo: bool = True
) -> None:
    from gamsi.topics import ensure_topics, wait_for_kafka

    await wait_for_kafka(
        settings.kafka.bootstrap, within=60, options=kafka_client_options(settings)
    )
    await ensure_topics(settings)
    logs = settings.data_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    base = [sys.executable, "-m", "gamsi", *(["-c", config] if config else [])]
    children = [
        Child(name, [*base, *argv], logs / f"{name}.log", _open_log(logs / f"{name}.log"))
        for name, argv in SERVICES
        if not only or name in only
    ]
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    print(_banner(settings, children), flush=True)
    tasks = [asyncio.create_task(_run_child(c, stop, echo)) for c in children]
    try:
        await stop.wait()
    finally:
        print("gamsi: stopping services ...", file=sys.stderr)
        await _terminate(children)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for child in children:
            child.log.close()


def _open_log(path: Path) -> BinaryIO:
    return path.open("ab")


def _banner(settings: Settings, children: list[Child]) -> str:
    names = ", ".join(c.name for c in children)
    return (
        f"Gamsi is up: {names}\n"
        f"  Kafka:       {settings.kafka.bootstrap} (topics {settings.kafka.metrics_topic}, "
        f"{settings.kafka.events_topic}, {settings.kafka.deadletter_topic})\n"
        f"  History:     {settings.history_dsn()}  ->  gamsi history query "
        f'"SELECT * FROM events ORDER BY ts DESC LIMIT 10"\n'
        f"  Status page: http://{settings.web.host}:{settings.web.port}/  (gamsi status)\n"
        f"  Events live: gamsi events tail\n"
        f"  Logs:        {settings.data_dir / 'logs'}/<service>.log\n"
        f"  Stop:        Ctrl-C"
    )


def _up(args: argparse.Namespace, settings: Settings) -> int:
    from gamsi.kafka_broker import LocalBroker

    broker = LocalBroker(settings) if _uses_local_broker(settings) else None
    started_broker = False
    if broker is not None:
        if broker.pid() is None:
            print(
                f"gamsi: starting Kafka {settings.broker.kafka_version} on {broker.bootstrap} ..."
            )
            started_broker = True
        broker.start()
    try:
        asyncio.run(supervise(settings, args.config, args.only or [], echo=not args.quiet))
    finally:
        if broker is not None and started_broker and not args.keep_broker:
            print("gamsi: stopping Kafka ...", file=sys.stderr)
            broker.stop()
    return 0


def add_commands(sub: Any) -> None:
    from gamsi.cli import command

    up = command(
        sub, "up", _up, "run Gamsi on this machine: the broker and every service, each a process"
    )
    up.add_argument(
        "--only",
        action="append",
        choices=[name for name, _ in SERVICES],
        help="run only this service (repeatable)",
    )
    up.add_argument("--quiet", action="store_true", help="do not echo service output")
    up.add_argument(
        "--keep-broker", action="store_true", help="leave the local broker running on exit"
    )
