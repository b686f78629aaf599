"""`gamsi silence add | list | expire`, like Alertmanager's `amtool silence`.

    gamsi silence add --host 'db-*' --watch disk-space --for 2h --comment "disk swap"
    gamsi silence list [--all] [--json]
    gamsi silence expire ID

``add`` prints the new silence's id (alone on stdout, so scripts can keep it);
``expire`` takes the id or a unique prefix of it (``list`` shows the first 8
characters). The model is :mod:`gamsi.notifier.silences`, the topic
:mod:`gamsi.notifier.silence_store`.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
import time
from collections.abc import Coroutine
from typing import Any, TypeVar

import orjson

from gamsi import durations
from gamsi.cli import UserError, command
from gamsi.notifier.silences import Silence, SilenceError, clock, new_silence
from gamsi.settings import Settings
from gamsi.terminal import printable

T = TypeVar("T")


def _kafka(settings: Settings, job: Coroutine[Any, Any, T]) -> T:
    """Run ``job``; a silence that cannot be made or a broker's refusal is one line
    (UserError). An unreachable broker propagates: `gamsi.cli.main` says it in the one
    line every command uses (:mod:`gamsi.kafka_errors`)."""
    from aiokafka.errors import KafkaError

    from gamsi.kafka_errors import unreachable

    try:
        return asyncio.run(job)
    except SilenceError as exc:
        raise UserError(str(exc)) from None
    except KafkaError as exc:
        if unreachable(exc):
            raise
        raise UserError(
            f"Kafka at {settings.kafka.bootstrap} refused: {type(exc).__name__}: {exc}"
        ) from None


def _add(args: argparse.Namespace, settings: Settings) -> int:
    from gamsi.notifier.silence_store import publish_silence

    try:
        duration = durations.parse_duration(args.duration)
    except ValueError as exc:
        raise UserError(f"--for: {exc}") from None
    matchers = {"hosts": args.host, "watches": args.watch, "items": args.item, "tags": args.tag}
    try:
        silence = new_silence(
            matchers, time.time(), duration, args.by or getpass.getuser(), args.comment
        )
    except SilenceError as exc:
        raise UserError(str(exc)) from None
    _kafka(settings, publish_silence(settings, silence))
    print(silence.id)
    print(f"{silence.describe()} ({silence.matchers_text()})", file=sys.stderr)
    return 0


def _list(args: argparse.Namespace, settings: Settings) -> int:
    from gamsi.notifier.silence_store import read_silences

    now = time.time()
    book = _kafka(settings, read_silences(settings))
    shown = sorted(book.silences.values(), key=lambda s: s.ends) if args.all else book.active(now)
    if args.json:
        rows = [{**s.to_record(), "active": s.active(now)} for s in shown]
        sys.stdout.write(orjson.dumps(rows, option=orjson.OPT_INDENT_2).decode() + "\n")
        return 0
    if not shown:
        print("no silence in force" if not args.all else "no silence")
    for s in shown:
        print(_line(s, now))
    return 0


def _line(s: Silence, now: float) -> str:
    """``3f2a9c1e  host=db-*  2026-12-01 03:00 UTC → 05:00 UTC  kim: disk swap``."""
    state = "" if s.active(now) else ("  (ended)" if s.ends <= now else "  (not yet)")
    note = f": {s.comment}" if s.comment else ""
    span = f"{clock(s.starts)} → {clock(s.ends)}"
    line = f"{s.id[:8]}  {s.matchers_text()}  {span}  {s.by}{note}{state}"
    return printable(line)  # comment, who and matchers are free text from the topic


def _expire(args: argparse.Namespace, settings: Settings) -> int:
    from gamsi.notifier.silence_store import expire_silence

    ended = _kafka(settings, expire_silence(settings, args.id, args.by or getpass.getuser()))
    print(f"silence {ended.id[:8]} ({ended.matchers_text()}) expired")
    return 0


def add_commands(sub: Any) -> None:
    """Register `gamsi silence ...` on the `gamsi` parser."""
    silence = sub.add_parser("silence", help="mute notifications for a while (like amtool)")
    ssub = silence.add_subparsers(dest="silence_command", required=True)
    add = command(ssub, "add", _add, "add a silence; prints its id")
    for flag, dest, what in (
        ("--host", "host", "host glob, e.g. 'db-*'"),
        ("--watch", "watch", "watch name glob"),
        ("--item", "item", "item glob, e.g. 'disk.*'"),
        ("--tag", "tag", "host tag"),
    ):
        add.add_argument(flag, dest=dest, action="append", default=[], help=f"{what} (repeatable)")
    add.add_argument("--for", dest="duration", required=True, help="how long: 30m, 2h, 1d")
    add.add_argument("--comment", required=True, help="why (shown wherever the silence is)")
    add.add_argument("--by", default="", help="who (default: your user name)")
    ls = command(ssub, "list", _list, "the silences in force")
    ls.add_argument("--all", action="store_true", help="ended and future silences too")
    ls.add_argument("--json", action="store_true", help="JSON output")
    ex = command(ssub, "expire", _expire, "end a silence now")
    ex.add_argument("id", help="the silence id (or a unique prefix, as `list` shows it)")
    ex.add_argument("--by", default="", help="who (default: your user name)")
