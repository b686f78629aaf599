"""``gamsi collector run | once | capture | install``."""

from __future__ import annotations

import argparse
import getpass
import logging
import sys
import time
from pathlib import Path
from typing import Any

from gamsi.cli import UserError, command
from gamsi.settings import Settings, load_settings

log = logging.getLogger("gamsi.collector")


def _run(args: argparse.Namespace, settings: Settings) -> int:
    """Run until SIGTERM/SIGINT; SIGHUP restarts the agent with the re-read configuration."""
    from gamsi.collector.service import run_agent
    from gamsi.runner import run_service

    # No wait for Kafka: the agent spools while the broker is away.
    return run_service(run_agent, settings, reload=lambda: load_settings(args.config), kafka=False)


def _once(args: argparse.Namespace, settings: Settings) -> int:
    import orjson

    from gamsi.collector.agent import build_batch
    from gamsi.collector.collect import Collector
    from gamsi.schemas.codec import encode

    collector = Collector(settings.collector).open()
    try:
        # Rates need two readings: prime, wait one second, collect for real.
        collector.collect(time.monotonic())
        time.sleep(args.wait)
        samples = collector.collect(time.monotonic())
    finally:
        collector.close()
    batch = build_batch(settings.collector, collector.stats.os(), 0, time.time(), samples)
    body = orjson.loads(encode(batch))
    sys.stdout.write(orjson.dumps(body, option=orjson.OPT_INDENT_2).decode() + "\n")
    return 0


def _capture(args: argparse.Namespace, settings: Settings) -> int:
    from gamsi.collector.collect import default_stats
    from gamsi.collector.replay import capture

    path = Path(args.file)
    if not path.parent.is_dir():
        raise UserError(f"{path}: directory {path.parent} does not exist")
    doc = capture(
        default_stats(settings.collector.host_root), path, frames=args.frames, gap=args.gap
    )
    print(f"captured {len(doc['frames'])} frames of {doc['host']} into {path}")
    return 0


def _install(args: argparse.Namespace, settings: Settings) -> int:
    from gamsi.collector.systemd import UNIT_PATH, render_unit

    unit = render_unit(args.user, args.config)
    if args.print:
        sys.stdout.write(unit)
        return 0
    target = Path(args.path) if args.path else UNIT_PATH
    try:
        target.write_text(unit)
    except OSError as exc:
        raise UserError(
            f"cannot write {target}: {exc.strerror}; run as root, or use --print and "
            "install the unit yourself"
        ) from None
    print(f"wrote {target}; now: systemctl daemon-reload && systemctl enable --now {target.name}")
    return 0


def add_commands(sub: Any) -> None:
    """Register ``gamsi collector ...``."""
    parser = sub.add_parser("collector", help="the host agent: collect, publish, spool")
    add_subcommands(parser.add_subparsers(dest="collector_command", required=True))


def add_subcommands(csub: Any) -> None:
    """run, once, capture, install (also used by ``python -m gamsi.collector``)."""
    command(csub, "run", _run, "run the agent in the foreground (SIGTERM stops, SIGHUP reloads)")
    once = command(csub, "once", _once, "collect one batch and print it as JSON (no Kafka)")
    once.add_argument("--wait", type=float, default=1.0, help="seconds between the two readings")
    cap = command(csub, "capture", _capture, "record snapshots of this host for replay tests")
    cap.add_argument("file", help="JSON file to write")
    cap.add_argument("--frames", type=int, default=3, help="snapshots to take (default 3)")
    cap.add_argument("--gap", type=float, default=1.0, help="seconds between snapshots")
    inst = command(csub, "install", _install, "write the systemd unit of the collector")
    inst.add_argument("--print", action="store_true", help="print the unit instead of writing it")
    inst.add_argument("--path", help="where to write it (default /etc/systemd/system/...)")
    inst.add_argument("--user", default=getpass.getuser(), help="user the service runs as")
