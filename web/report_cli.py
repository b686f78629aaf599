"""``gamsi report``: the reports of :mod:`gamsi.web.report` over a period, in four formats.

``gamsi history report`` stays as it was (its per-series tables); this command is
the one an operator sends on: per server and per watch, with CSV for spreadsheets
and one HTML file that opens offline.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from pathlib import Path
from typing import Any

from gamsi.cli import UserError, command
from gamsi.schemas.records import Severity
from gamsi.settings import Settings


def parse_time(text: str, where: str) -> float:
    """ISO 8601 (``2026-11-30``, ``2026-11-30T09:00``, with a zone or UTC) → epoch seconds."""
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        raise UserError(
            f"{where}: expected a date/time like 2026-11-30T09:00, got {text!r}"
        ) from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.timestamp()


def window(args: argparse.Namespace) -> Any:
    """The period from ``--since``/``--until`` or ``--hours`` (ending now)."""
    from gamsi.history.reports import Window

    end = parse_time(args.until, "--until") if args.until else time.time()
    if args.since:
        start = parse_time(args.since, "--since")
    else:
        if args.hours <= 0:
            raise UserError(f"--hours: expected a positive number, got {args.hours}")
        start = end - args.hours * 3600
    if start >= end:
        raise UserError("--since: expected a time before --until")
    return Window(round(start * 1000), round(end * 1000))


def _report(args: argparse.Namespace, settings: Settings) -> int:
    from gamsi.history.cli import format_table
    from gamsi.history.client import QueryError, history_reader
    from gamsi.web.report import build
    from gamsi.web.report_out import slug, to_csv, to_html

    w = window(args)
    if args.top < 1:
        raise UserError(f"--top: expected at least 1, got {args.top}")
    try:
        with history_reader(settings) as run:
            reports = build(
                run,
                w,
                hosts=args.host or "",
                item=args.item,
                top=args.top,
                down_from=args.down_from,
            )
    except (QueryError, OSError) as exc:
        raise UserError(f"cannot read history: {exc}") from None
    out = Path(args.out).expanduser() if args.out else None
    if args.format == "html":
        text = to_html(reports, w, f"servers {args.host}" if args.host else "")
        if out is None:
            sys.stdout.write(text)
        else:
            out.write_text(text, encoding="utf-8")
            print(f"wrote {out}")
    elif args.format == "csv":
        if out is None:
            for r in reports:
                sys.stdout.write(f"# {r.title}\n{to_csv(r)}\n")
        else:
            out.mkdir(parents=True, exist_ok=True)
            for r in reports:
                (out / f"{slug(r.title)}.csv").write_text(to_csv(r), encoding="utf-8")
            print(f"wrote {len(reports)} CSV files in {out}")
    elif args.format == "json":
        import orjson

        body = [{"title": r.title, "columns": r.columns, "rows": r.rows} for r in reports]
        sys.stdout.write(orjson.dumps(body).decode() + "\n")
    else:
        for r in reports:
            print(f"\n== {r.title}\n{format_table(r.columns, r.rows)}")
    return 0


def _level(name: str) -> int:
    try:
        return int(Severity.parse(name))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_commands(sub: Any) -> None:
    """Register ``gamsi report``."""
    rep = command(
        sub,
        "report",
        _report,
        "availability, time per severity, MTTR, noisiest "
        "watches and top servers over a period (table, CSV, JSON, HTML)",
    )
    rep.add_argument("--hours", type=float, default=24.0, help="period ending now (default 24)")
    rep.add_argument("--since", help="period start, ISO 8601 (UTC unless a zone is given)")
    rep.add_argument("--until", help="period end, ISO 8601 (default: now)")
    rep.add_argument("--host", help="only servers matching this glob (e.g. 'web-*')")
    rep.add_argument("--item", default="cpu.util", help="item of the top-servers report")
    rep.add_argument("--top", type=int, default=10, help="rows of the top-N reports (default 10)")
    rep.add_argument(
        "--down-from",
        type=_level,
        default=int(Severity.URGENT),
        help="the level from which a server counts as down (default urgent)",
    )
    rep.add_argument("--format", choices=("table", "csv", "json", "html"), default="table")
    rep.add_argument("--out", help="HTML: the file to write; CSV: a directory (one file each)")
