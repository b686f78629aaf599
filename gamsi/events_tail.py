"""`gamsi events tail`: watch severity events arrive, coloured by severity.

A terminal view for the first minutes with Gamsi (and for debugging routes):
it reads the events topic without a consumer group, so it never steals
events from the notifier or the history writer.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from typing import Any

from gamsi.kafka_auth import kafka_client_options
from gamsi.schemas.codec import DecodeError, decode_severity_event
from gamsi.schemas.records import Severity, SeverityEvent
from gamsi.settings import Settings
from gamsi.terminal import printable

ANSI = {0: "32", 1: "34", 2: "33", 3: "38;5;208", 4: "31", 5: "35"}


def format_event(event: SeverityEvent, colour: bool) -> str:
    """One line for ``event``: time, level (coloured when ``colour``), transition and
    message, the field text escaped by :func:`gamsi.terminal.printable` (one line always)."""
    sev = Severity(event.severity)
    when = time.strftime("%H:%M:%S", time.localtime(event.ts))
    label = f"{sev.name:8} {sev.korean}"
    if colour:
        label = f"\x1b[{ANSI[sev]}m{label}\x1b[0m"
    return f"{when} {label} {printable(event.transition):10} {printable(event.message)}"


async def tail(settings: Settings, from_beginning: bool, limit: int | None) -> None:
    from aiokafka import AIOKafkaConsumer

    consumer = AIOKafkaConsumer(
        settings.kafka.events_topic,
        **kafka_client_options(settings),
        group_id=None,
        auto_offset_reset="earliest" if from_beginning else "latest",
    )
    colour = sys.stdout.isatty()
    seen = 0
    try:
        await consumer.start()  # inside the try: a failed start is stopped too
        async for message in consumer:
            try:
                print(format_event(decode_severity_event(message.value), colour), flush=True)
            except DecodeError as exc:
                print(f"(undecodable event at offset {message.offset}: {exc})", flush=True)
            seen += 1
            if limit is not None and seen >= limit:
                return
    finally:
        await consumer.stop()


def _tail(args: argparse.Namespace, settings: Settings) -> int:
    asyncio.run(tail(settings, args.from_beginning, args.limit))
    return 0


def add_commands(sub: Any) -> None:
    from gamsi.cli import command

    events = sub.add_parser("events", help="severity events on Kafka")
    esub = events.add_subparsers(dest="events_command", required=True)
    t = command(esub, "tail", _tail, "print severity events as they arrive")
    t.add_argument("--from-beginning", action="store_true", help="start at the oldest event")
    t.add_argument("-n", "--limit", type=int, help="stop after this many events")
