"""Subcommands of the notifier: `gamsi notifier run`, `gamsi notifier check`, `gamsi ack`."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from gamsi.cli import UserError, command
from gamsi.settings import Settings


def _run(args: argparse.Namespace, settings: Settings) -> int:
    from gamsi.notifier.service import run_notifier
    from gamsi.runner import run_service

    return run_service(run_notifier, settings)


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
    from gamsi.notifier.ack import acknowledge

    record = asyncio.run(acknowledge(settings, args.event, args.by, args.comment))
    print(f"acknowledged {record['event_id']} as {record['by']}")
    return 0


def add_commands(sub: Any) -> None:
    """Register this stage's subcommands on the `gamsi` parser."""
    notifier = sub.add_parser("notifier", help="send severity events to people")
    nsub = notifier.add_subparsers(dest="notifier_command", required=True)
    command(nsub, "run", _run, "consume severity events and notify (until SIGTERM)")
    check = command(nsub, "check", _check, "validate a routing file and its channels' secrets")
    check.add_argument("file", nargs="?", help="routing file (default: [notifier] routing_file)")
    ack = command(sub, "ack", _ack, "acknowledge a problem: stops re-notification and escalation")
    ack.add_argument("event", help="the event id shown in the notification")
    ack.add_argument("--by", default="", help="who acknowledges (default: your user name)")
    ack.add_argument("--comment", default="", help="a note shown with the acknowledgement")
