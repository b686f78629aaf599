"""``gamsi history run | query | report``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from gamsi.cli import UserError, command
from gamsi.settings import Settings
from gamsi.terminal import display_width, pad, printable

if TYPE_CHECKING:
    from gamsi.history.reports import Run

T = TypeVar("T")


def _run(args: argparse.Namespace, settings: Settings) -> int:
    from gamsi.history.service import run_history
    from gamsi.runner import run_service

    try:
        return run_service(run_history, settings)
    except OSError as exc:
        raise UserError(str(exc)) from None


def _query(args: argparse.Namespace, settings: Settings) -> int:
    result = _with_history(settings, lambda run: run(args.sql))
    _print(args, [("", result.columns, result.rows)])
    return 0


def _report(args: argparse.Namespace, settings: Settings) -> int:
    from gamsi.history.reports import all_reports

    if args.hours <= 0:
        raise UserError(f"--hours: expected a positive number, got {args.hours}")
    warn_unknown_item(args.item)
    reports = _with_history(
        settings, lambda run: all_reports(run, hours=args.hours, item=args.item, top=args.top)
    )
    _print(args, [(r.title, r.columns, r.rows) for r in reports])
    return 0


def warn_unknown_item(item: str) -> None:
    """A warning on stderr, with "did you mean", for an item no collector input reports
    (a custom item is allowed, so this never refuses)."""
    from gamsi.cli_parser import did_you_mean
    from gamsi.streams.policy.catalogue import COLLECTOR_ITEMS, declared_input_items

    known = COLLECTOR_ITEMS | declared_input_items()
    if item not in known:
        hint = did_you_mean(item, sorted(known)) or "; it is not a built-in item"
        print(f"gamsi: warning: --item {item!r}: no collector input reports it{hint}",
              file=sys.stderr)  # fmt: skip


def _with_history(settings: Settings, use: Callable[[Run], T]) -> T:
    """Run ``use`` on the history (endpoint or store); its failures become UserErrors."""
    from gamsi.history.client import QueryError, history_reader
    from gamsi.history.store import StoreError

    try:
        with history_reader(settings) as run:
            return use(run)
    except (StoreError, QueryError) as exc:
        raise UserError(f"history: {exc}") from None


def _print(args: argparse.Namespace, tables: list[tuple[str, list[str], list[list[Any]]]]) -> None:
    from gamsi.history.query_server import dumps

    if args.json:
        body: Any = [{"title": t, "columns": c, "rows": r} for t, c, r in tables]
        if len(tables) == 1 and not tables[0][0]:
            body = {"columns": tables[0][1], "rows": tables[0][2]}
        sys.stdout.write(dumps(body).decode() + "\n")
        return
    for title, columns, rows in tables:
        if title:
            print(f"\n== {title}")
        print(format_table(columns, severity_names(columns, rows)))


SEVERITY_COLUMNS = frozenset({"severity", "previous", "level", "worst"})
"""Columns holding a severity level (0..5) that tables show by name (JSON keeps numbers)."""


def severity_names(columns: list[str], rows: list[list[Any]]) -> list[list[Any]]:
    """``rows`` with each 0..5 integer in a :data:`SEVERITY_COLUMNS` column replaced by
    its level's name (``urgent``); other values untouched."""
    from gamsi.schemas.records import Severity

    named = {i for i, c in enumerate(columns) if c in SEVERITY_COLUMNS}
    if not named:
        return rows

    def name(value: Any) -> Any:
        if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 5:
            return Severity(value).name.lower()
        return value

    return [[name(v) if i in named else v for i, v in enumerate(row)] for row in rows]


def format_table(columns: list[str], rows: list[list[Any]]) -> str:
    """A plain text table: numbers right-aligned, everything else left-aligned.

    Cells are escaped by :func:`gamsi.terminal.printable` (a control character prints as
    ``\\xNN``) and padded by display width (a Hangul syllable takes two columns)."""
    if not columns:  # chDB reports no column names for an empty result
        return f"({len(rows)} rows)"
    cells = [[_cell(v) for v in row] for row in rows]
    widths = [
        max([display_width(c), *(display_width(r[i]) for r in cells)])
        for i, c in enumerate(columns)
    ]
    numeric = [all(_is_number(row[i]) for row in rows) and rows for i in range(len(columns))]

    def line(values: list[str]) -> str:
        parts = [
            pad(v, w, right=bool(num)) for v, w, num in zip(values, widths, numeric, strict=True)
        ]
        return "  ".join(parts).rstrip()

    out = [line(columns), line(["-" * w for w in widths])]
    out += [line(r) for r in cells]
    out.append(f"({len(rows)} row{'s' if len(rows) != 1 else ''})")
    return "\n".join(out)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}" if abs(value) < 1e15 else repr(value)
    return printable(str(value))


def add_commands(sub: Any) -> None:
    """Register `gamsi history ...` on the `gamsi` parser."""
    history = sub.add_parser("history", help="history in ClickHouse: the writer, queries, reports")
    hsub = history.add_subparsers(dest="history_command", required=True)
    command(
        hsub,
        "run",
        _run,
        "store metrics, events and deliveries from Kafka; serve the read-only query endpoint",
    )
    query = command(hsub, "query", _query, "run one read-only SQL statement on the history")
    query.add_argument(
        "sql", help="one SELECT over Gamsi's tables (docs/history.md: what /query accepts)"
    )
    query.add_argument("--json", action="store_true", help="print JSON instead of a table")
    report = command(
        hsub,
        "report",
        _report,
        "availability and time per severity, MTTR, noisiest watches, top hosts by an item",
    )
    report.add_argument("--hours", type=float, default=24.0, help="window length (default 24)")
    report.add_argument("--item", default="cpu.util", help="item of the top-hosts report")
    report.add_argument("--top", type=int, default=10, help="rows of the top-N reports")
    report.add_argument("--json", action="store_true", help="print JSON instead of tables")
