"""Subcommands of the notifier: `gamsi notifier run`, `gamsi notifier check`, `gamsi ack`."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from gamsi.cli import UserError, command
from gamsi.settings import ConfigError, Settings


def _run(args: argparse.Namespace, settings: Settings) -> int:
    from gamsi.notifier.reload import run
    from gamsi.settings import load_settings

    return run(settings, lambda: load_settings(args.config))


def _reload(args: argparse.Namespace, settings: Settings) -> int:
    from gamsi.notifier.reload import signal_reload
    from gamsi.notifier.service import checked_config

    config = checked_config(settings)  # a bad file is reported here, and nothing is sent
    try:
        pid = signal_reload(settings)
    except ProcessLookupError as exc:
        raise UserError(str(exc)) from None
    print(f"{config.source}: valid; the notifier (pid {pid}) reloads it")
    return 0


def _route_test(args: argparse.Namespace, settings: Settings) -> int:
    from gamsi.notifier.route_explain import explain, parse_at, probe_event, render
    from gamsi.notifier.routing import load_routing
    from gamsi.notifier.service import load_config

    # no routing file: the built-in route the notifier runs with (Slack if a token, else
    # the console), explained the same way
    path = args.routing
    config = load_routing(path) if path else load_config(settings)
    tz = config.timezone
    tags = tuple(t for t in ",".join(args.tag).split(",") if t)
    try:  # a bad option is the user's, not the configuration's
        at = parse_at(args.at, tz)
        event = probe_event(args.host, args.severity, watch=args.watch, item=args.item, tags=tags)
    except ConfigError as exc:
        raise UserError(str(exc)) from None
    silences = [] if args.no_silences else _silences(settings)
    print(render(explain(config, event, at, silences), tz))
    return 0


def _silences(settings: Settings) -> list[Any]:
    """Every silence on the topic, or none with a note when Kafka does not answer."""
    from aiokafka.errors import KafkaError

    from gamsi.notifier.silence_store import read_silences

    async def read() -> list[Any]:
        book = await asyncio.wait_for(read_silences(settings), 15)
        return list(book.silences.values())

    try:
        return asyncio.run(read())
    except (KafkaError, OSError, TimeoutError) as exc:
        print(
            f"note: silences not checked: Kafka at {settings.kafka.bootstrap} does not answer "
            f"({type(exc).__name__}); --no-silences skips them",
            file=sys.stderr,
        )
        return []


def _check(args: argparse.Namespace, settings: Settings) -> int:
    from gamsi.notifier.routing import load_routing
    from gamsi.notifier.secrets import Secrets
    from gamsi.notifier.service import build_channels

    path = args.file or settings.notifier.routing_file
    if not path:
        raise UserError("no routing file: give one or set [notifier] routing_file")
    config = load_routing(path)
    build_channels(config, settings, Secrets())
    print(
        f"{path}: {len(config.channels)} channels, {len(config.recipients)} recipients, "
        f"{len(config.routes)} routes, {len(config.maintenance)} maintenance windows: ok"
    )
    return 0


def _ack(args: argparse.Namespace, settings: Settings) -> int:
    from gamsi.notifier.ack import AckError, acknowledge, list_acks, withdraw

    chosen = [x for x in (args.event, args.undo) if x] + (["--list"] if args.list else [])
    if len(chosen) != 1:
        raise UserError("give one of: EVENT_ID, --list, --undo EVENT_ID")
    try:
        if args.list:
            return _print_acks(asyncio.run(list_acks(settings)))
        if args.undo:
            record = asyncio.run(withdraw(settings, args.undo, args.by))
            print(f"acknowledgement of {record['event_id']}'s problem withdrawn")
            return 0
        record = asyncio.run(acknowledge(settings, args.event, args.by, args.comment))
    except AckError as exc:
        raise UserError(str(exc)) from None
    print(f"acknowledged {record['event_id']} as {record['by']}")
    return 0


def _print_acks(acks: list[tuple[Any, dict[str, Any]]]) -> int:
    import datetime as dt

    from gamsi.terminal import printable

    if not acks:
        print("no open problem is acknowledged")
    for problem, record in acks:
        e = problem.event
        at = dt.datetime.fromtimestamp(float(record["at"]), dt.UTC).strftime("%Y-%m-%d %H:%M:%SZ")
        what = e.item + (f"[{e.instance}]" if e.instance else "")
        note = f": {record['comment']}" if record.get("comment") else ""
        line = f"{record['event_id']}  {e.host} {what} [{e.watch}]  by {record['by']} at {at}{note}"
        print(printable(line))  # the comment and who are free text from the ack form
    return 0


def add_commands(sub: Any) -> None:
    """Register this stage's subcommands on the `gamsi` parser (and `gamsi silence`)."""
    from gamsi.notifier.silence_cli import add_commands as add_silence_commands

    add_silence_commands(sub)
    notifier = sub.add_parser("notifier", help="send severity events to people")
    nsub = notifier.add_subparsers(dest="notifier_command", required=True)
    command(nsub, "run", _run, "consume severity events and notify (SIGTERM stops, SIGHUP reloads)")
    command(nsub, "reload", _reload, "check the routing file, then make the notifier reload it")
    rt = command(nsub, "route-test", _route_test, "who would be told about an event, and who not")
    rt.add_argument("--host", required=True, help="the host the event is about")
    rt.add_argument("--severity", required=True, help="harmless, caution, danger, urgent, fatal")
    rt.add_argument("--watch", default="", help="the watch name")
    rt.add_argument("--item", default="", help="the item, e.g. cpu.util")
    rt.add_argument("--tag", action="append", default=[], help="a host tag (repeatable)")
    rt.add_argument("--at", help="when, e.g. '2026-12-01 03:00 Asia/Seoul' (default: now)")
    rt.add_argument("--routing", help="routing file (default: [notifier] routing_file)")
    rt.add_argument("--no-silences", action="store_true", help="do not read the silences")
    check = command(nsub, "check", _check, "validate a routing file and its channels' secrets")
    check.add_argument("file", nargs="?", help="routing file (default: [notifier] routing_file)")
    ack = command(sub, "ack", _ack, "acknowledge a problem: stops re-notification and escalation")
    ack.add_argument("event", nargs="?", help="the event id shown in the notification")
    ack.add_argument("--list", action="store_true", help="list the acknowledged open problems")
    ack.add_argument("--undo", metavar="EVENT_ID", help="withdraw the acknowledgement")
    ack.add_argument("--by", default="", help="who acknowledges (default: your user name)")
    ack.add_argument("--comment", default="", help="a note shown with the acknowledgement")
