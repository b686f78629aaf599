"""`gamsi up`: the whole pipeline on this machine, in one foreground command, honestly.

Steps, each announced on stderr with the time it took: take the data directory's
lock (a second `gamsi up` on it is refused with the first one's pid); start the
local Kafka broker unless ``[kafka] bootstrap`` points elsewhere (the first run
fetches its jars from Maven Central, with a progress line); wait until Kafka
answers and every topic is present; start every service as its own process and
wait until each is *ready* by the contract of :mod:`gamsi.readiness` (consumer
group joined, /health answering). Only then does it print ``ready in N s`` and the
banner. Services are restarted as :mod:`gamsi.up_children` says: a configuration
error before ready stops `gamsi up` with the service's error line; a crash loop is
reported as DOWN; the broker it started is restarted when it dies. Ctrl-C or
SIGTERM stops the services (SIGTERM, then SIGKILL after a grace period) and the
broker it started. Separate processes mirror production, where each service is
its own unit.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

from gamsi.http_config import endpoint_token
from gamsi.instance_lock import take_lock
from gamsi.readiness import Probe, own_health, pending
from gamsi.settings import Settings
from gamsi.up_children import (
    EXIT_CONFIG,
    Child,
    run_child,
    say,
    terminate,
    ticking,
    watch_broker,
)

LOCAL = "127.0.0.1"
SERVICES: tuple[tuple[str, tuple[str, ...], Probe], ...] = (
    (
        "history",
        ("history", "run"),
        Probe(
            group=lambda s: s.history.group_id,
            health=lambda s: (
                (
                    f"http://{LOCAL}:{s.history.query_port}/health",
                    endpoint_token(s.history.query_token, s.history.query_token_file, "token"),
                )
                if s.history.query_port
                else None
            ),
        ),
    ),
    ("streams", ("streams", "run"), Probe(lambda s: s.streams.app_id, own_health("streams"))),
    (
        "notifier",
        ("notifier", "run"),
        Probe(
            group=lambda s: s.notifier.group_id,
            health=lambda s: (
                (f"http://{LOCAL}:{s.notifier.ack_port}/health", "")
                if s.notifier.ack_port
                else None
            ),
        ),
    ),
    (
        "remediator",
        ("remediator", "run"),
        Probe(lambda s: s.remediator.group_id, own_health("remediator")),
    ),
    ("collector", ("collector", "run"), Probe(health=own_health("collector"))),
    (
        "web",
        ("web", "run"),
        Probe(health=lambda s: (f"http://{s.web.host}:{s.web.port}/health", "")),
    ),
)
"""Every service of `gamsi up`: name, `gamsi` subcommand, readiness probe."""
GRACE_SECONDS = 20.0
READY_WARN = 120.0
"""Seconds after which services still not ready are named (once)."""


def uses_local_broker(settings: Settings) -> bool:
    """Does ``[kafka] bootstrap`` name the local broker of ``[broker] port``?"""
    return settings.kafka.bootstrap.strip() in {
        f"127.0.0.1:{settings.broker.port}",
        f"localhost:{settings.broker.port}",
    }


async def _await_ready(
    settings: Settings, children: list[Child], t0: float, stop: asyncio.Event, all_ready: Any
) -> None:
    """Probe every running, not-ready child; announce each; set ``all_ready`` and print
    the banner when every one is ready; afterwards announce a restarted one's return."""
    began, warned = time.monotonic(), False
    while not stop.is_set():
        for child in children:
            waiting = child.ready_at is None and child.running() and not child.down
            if waiting and not await pending(settings, child.probe):
                child.ready_at = time.monotonic()
                again = " again" if all_ready.is_set() else ""
                since = max(began, child.started_at)  # a restart counts from its own start
                say(f"{child.name} ready{again} ({child.ready_at - since:.1f} s)")
        if not all_ready.is_set() and all(c.ready_at is not None for c in children):
            all_ready.set()
            say(f"ready in {time.monotonic() - t0:.1f} s")
            print(_banner(settings, children), flush=True)
        elif not all_ready.is_set() and not warned and time.monotonic() - began > READY_WARN:
            warned = True
            for child in children:
                if child.ready_at is None:
                    what = "; ".join(await pending(settings, child.probe)) or "not running"
                    say(f"NOT READY after {READY_WARN:.0f} s: {child.name}: {what}")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.5 if not all_ready.is_set() else 2.0)


async def supervise(
    settings: Settings,
    config: str | None,
    only: list[str],
    echo: bool = True,
    broker: Any = None,
    t0: float | None = None,
) -> int:
    """Wait for Kafka and the topics, run the services until a signal; returns the exit
    code (0, or :data:`EXIT_CONFIG` when a service refused to start). ``broker``: the
    LocalBroker this `gamsi up` started, restarted when it dies."""
    from gamsi.kafka_auth import kafka_client_options
    from gamsi.topics import ensure_topics, topic_specs, wait_for_kafka

    t0 = time.monotonic() if t0 is None else t0
    step = time.monotonic()
    say(f"waiting for Kafka at {settings.kafka.bootstrap} ...")
    await wait_for_kafka(
        settings.kafka.bootstrap, within=60, options=kafka_client_options(settings)
    )
    created = await ensure_topics(settings)
    say(
        f"Kafka answers; {len(topic_specs(settings))} topics present, {len(created)} created "
        f"({time.monotonic() - step:.1f} s)"
    )
    logs = settings.data_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    base = [sys.executable, "-m", "gamsi", *(["-c", config] if config else [])]
    children = [
        Child(name, [*base, *argv], logs / f"{name}.log", (logs / f"{name}.log").open("ab"), probe)
        for name, argv, probe in SERVICES
        if not only or name in only
    ]
    stop, fatal, all_ready = asyncio.Event(), asyncio.Event(), asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    say(f"starting {', '.join(c.name for c in children)} ...")
    tasks = [asyncio.create_task(run_child(c, stop, fatal, all_ready, echo)) for c in children]
    tasks.append(asyncio.create_task(_await_ready(settings, children, t0, stop, all_ready)))
    if broker is not None:
        tasks.append(asyncio.create_task(watch_broker(broker, stop)))
    waits = [asyncio.create_task(fatal.wait()), asyncio.create_task(stop.wait())]
    try:
        await asyncio.wait(waits, return_when="FIRST_COMPLETED")
        if fatal.is_set():
            for child in children:
                if child.fatal:
                    say(f"{child.name} cannot start: {child.fatal}")
            say("stopping: fix the error above and run gamsi up again")
            return EXIT_CONFIG
        return 0
    finally:
        stop.set()
        say("stopping services ...")
        await terminate(children, GRACE_SECONDS)
        for task in tasks + waits:
            task.cancel()
        await asyncio.gather(*tasks, *waits, return_exceptions=True)
        for child in children:
            child.log.close()


def _banner(settings: Settings, children: list[Child]) -> str:
    names = [c.name for c in children]
    page = f"http://{settings.web.host}:{settings.web.port}/" if "web" in names else "(not run)"
    return (
        f"Gamsi is up: {', '.join(names)}\n"
        f"  Kafka:       {settings.kafka.bootstrap} (topics {settings.kafka.metrics_topic}, "
        f"{settings.kafka.events_topic}, {settings.kafka.deadletter_topic})\n"
        f"  History:     {settings.history_dsn()}  ->  gamsi history query "
        f'"SELECT * FROM events ORDER BY ts DESC LIMIT 10"\n'
        f"  Status page: {page}  (gamsi status)\n"
        f"  Events live: gamsi events tail\n"
        f"  Logs:        {settings.data_dir / 'logs'}/<service>.log\n"
        f"  Stop:        Ctrl-C"
    )


def _start_broker(broker: Any, settings: Settings) -> bool:
    """Start the local broker if it is not running; True if this call started it."""
    if broker.pid() is not None:
        say(f"Kafka already running (pid {broker.pid()}); using it")
        broker.start()
        return False
    began = time.monotonic()
    if not (broker.libs / ".complete").exists():
        say(
            f"fetching Kafka {settings.broker.kafka_version} from Maven Central into "
            f"{broker.libs} (first run only; about a minute)"
        )
        m2 = Path.home() / ".m2" / "repository"
        before = _megabytes(m2)
        with ticking(lambda: f"still fetching: {_megabytes(m2) - before:.0f} MB so far"):
            broker.ensure_jars()
    say(f"starting Kafka {settings.broker.kafka_version} on {broker.bootstrap} ...")
    with ticking("Kafka is starting"):
        broker.start()
    say(f"Kafka started, pid {broker.pid()} ({time.monotonic() - began:.1f} s)")
    return True


def _megabytes(path: Path) -> float:
    """Size of the files under ``path`` in MB (0 if it does not exist)."""
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            with contextlib.suppress(OSError):
                total += os.path.getsize(os.path.join(root, name))
    return total / 1e6


def _up(args: argparse.Namespace, settings: Settings) -> int:
    from gamsi.kafka_broker import LocalBroker

    t0 = time.monotonic()
    lock = take_lock(settings.data_dir)
    say(f"data directory {settings.data_dir} (pid {os.getpid()})")
    broker = LocalBroker(settings) if uses_local_broker(settings) else None
    started = broker is not None and _start_broker(broker, settings)
    try:
        return asyncio.run(
            supervise(
                settings,
                args.config,
                args.only or [],
                echo=not args.quiet,
                broker=broker if started else None,
                t0=t0,
            )
        )
    finally:
        if broker is not None and started and not args.keep_broker:
            say("stopping Kafka ...")
            broker.stop()
        lock.close()


def add_commands(sub: Any) -> None:
    from gamsi.cli import command

    up = command(
        sub, "up", _up, "run Gamsi on this machine: the broker and every service, each a process"
    )
    up.add_argument(
        "--only",
        action="append",
        choices=[name for name, _, _ in SERVICES],
        help="run only this service (repeatable)",
    )
    up.add_argument("--quiet", action="store_true", help="do not echo service output")
    up.add_argument(
        "--keep-broker", action="store_true", help="leave the local broker running on exit"
    )
