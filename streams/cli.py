"""`gamsi streams ...`: the stream processor's commands."""

from __future__ import annotations

import argparse
from typing import Any

from gamsi.settings import Settings


def _run(args: argparse.Namespace, settings: Settings) -> int:
    import asyncio

    from gamsi.kafka_errors import wait_for_broker
    from gamsi.streams.service import run_worker

    asyncio.run(wait_for_broker(settings, who="streams"))  # quietly, one line a minute
    return run_worker(settings, loglevel="debug" if args.verbose else "info")


def add_commands(sub: Any) -> None:
    from gamsi.cli import command

    streams = sub.add_parser("streams", help="the stream processor (Faust worker)")
    ssub = streams.add_subparsers(dest="streams_command", required=True)
    command(ssub, "run", _run, "run one stream worker in the foreground")
