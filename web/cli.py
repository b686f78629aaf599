"""``gamsi status``: the fleet at a glance in the terminal (the web page's picture).

Counts per severity and a table of the cells that are not normal (every cell
with ``--all``), worst first; ``--watch`` redraws in place; ``--json`` is for
scripts; ``--fail-on LEVEL`` exits 1 when a shown cell is at or above that
level, so cron and CI can use it (like ``amtool alert query`` piped to a test).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from typing import Any

import orjson

from gamsi.cli import UserError, command
from gamsi.schemas.records import Severity
from gamsi.settings import Settings
from gamsi.terminal import display_width, pad, printable
from gamsi.web.status import Cell, Filters, FleetStatus

ANSI = {0: "32", 1: "34", 2: "33", 3: "38;5;208", 4: "31", 5: "35"}
LEVELS = [s.name.lower() for s in Severity]


def _level(name: str) -> int:
    try:
        return int(Severity.parse(name))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def render(status: FleetStatus, cells: list[Cell], colour: bool, shown_all: bool) -> str:
    """The counts line and the table, as printed (ANSI colours when ``colour``).

    Field text (host, item, instance, watch, who acked) is passed through
    :func:`gamsi.terminal.printable`, so a control character prints as ``\\xNN``;
    columns are padded by display width (a Hangul syllable takes two columns)."""

    def paint(sev: Severity, text: str) -> str:
        return f"\x1b[{ANSI[sev]}m{text}\x1b[0m" if colour else text

    counts = status.counts()
    head = "  ".join(
        paint(Severity.parse(name), f"{name} {Severity.parse(name).korean} {n}")
        for name, n in counts.items()
    )
    lines = [head, ""]
    if not cells:
        lines.append("every watched item is normal" if not shown_all else "nothing is watched yet")
        return "\n".join(lines)
    rows = [["LEVEL", "HOST", "ITEM", "INSTANCE", "WATCH", "VALUE", "SINCE", "ACK"]]
    for cell in cells:
        d = cell.to_dict()
        since = time.strftime("%m-%d %H:%M", time.localtime(d["since"])) if d["since"] else ""
        value = "" if d["value"] is None else f"{d['value']:.4g}"
        fields = [d["host"], d["item"], d["instance"], d["watch"]]
        rows.append(
            [
                f"{d['level']} {d['label']}",
                *(printable(str(v)) for v in fields),
                value,
                since,
                printable(str(d["acked_by"])),
            ]
        )
    widths = [max(display_width(r[i]) for r in rows) for i in range(len(rows[0]))]
    for n, row in enumerate(rows):
        text = "  ".join(pad(v, w) for v, w in zip(row, widths, strict=True)).rstrip()
        lines.append(text if n == 0 else paint(cells[n - 1].severity, text))
    return "\n".join(lines)


async def _build(settings: Settings) -> FleetStatus:
    from gamsi.history.client import history_reader
    from gamsi.web.load import build_status

    with history_reader(settings) as run:
        return await build_status(settings, run)


def _status(args: argparse.Namespace, settings: Settings) -> int:
    filters = Filters(
        min_severity=args.severity if args.severity is not None else (0 if args.all else 1),
        hosts=tuple(args.host or ()),
        tags=tuple(args.tag or ()),
        os=args.os or "",
    )
    colour = sys.stdout.isatty() and not args.json
    while True:
        try:
            status = asyncio.run(_build(settings))
        except OSError as exc:
            raise UserError(f"cannot build the status: {exc}") from None
        cells = status.select(filters)
        if args.json:
            out: dict[str, Any] = {
                "counts": status.counts(),
                "cells": [c.to_dict() for c in cells],
            }
            sys.stdout.write(orjson.dumps(out).decode() + "\n")
        else:
            if args.watch:
                sys.stdout.write("\x1b[H\x1b[2J")  # home and clear: redraw in place
            print(render(status, cells, colour, args.all))
        if not args.watch:
            break
        time.sleep(args.watch)
    if args.fail_on is not None and any(c.severity >= args.fail_on for c in cells):
        return 1
    return 0


def _web_run(args: argparse.Namespace, settings: Settings) -> int:
    from gamsi.runner import run_service
    from gamsi.web.service import run

    try:
        return run_service(run, settings)
    except OSError as exc:
        w = settings.web
        raise UserError(f"status page not started on {w.host}:{w.port}: {exc}; "
                        "set [web] port") from None  # fmt: skip


def add_commands(sub: Any) -> None:
    """Register ``gamsi status``, ``gamsi web run`` and ``gamsi report`` on the parser."""
    from gamsi.web.report_cli import add_commands as add_report

    add_report(sub)
    web = sub.add_parser("web", help="the status page (감시 현황) in a browser")
    wsub = web.add_subparsers(dest="web_command", required=True)
    command(wsub, "run", _web_run, "serve the live status page on [web] host:port")
    st = command(sub, "status", _status, "the fleet at a glance: counts and non-normal cells")
    st.add_argument("--all", action="store_true", help="every cell, normal ones too")
    st.add_argument("--severity", type=_level, help=f"only cells at or above ({'|'.join(LEVELS)})")
    st.add_argument("--host", action="append", help="host name glob (repeatable)")
    st.add_argument("--tag", action="append", help="hosts with this tag (repeatable)")
    st.add_argument("--os", help="hosts of this OS (linux, windows, darwin)")
    st.add_argument("--json", action="store_true", help="counts and cells as JSON")
    st.add_argument(
        "--watch", type=float, nargs="?", const=2.0, help="redraw every N seconds (default 2)"
    )
    st.add_argument(
        "--fail-on", type=_level, help="exit 1 if a shown cell is at or above this level"
    )
