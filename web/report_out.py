"""`gamsi report` output: a text table, CSV, JSON, or one self-contained HTML file.

The HTML file has its style inline and its charts as inline SVG (no script, no
link, no font, no image file), so it opens offline and can be mailed or archived
as it is. Every value from the field (host, item, watch names) is escaped.
"""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Sequence
from html import escape
from typing import Any

from gamsi.history.reports import Report, Window
from gamsi.schemas.records import Severity

STYLE = """body{font:14px/1.4 system-ui,"Noto Sans KR","Malgun Gothic",sans-serif;margin:2em;
color:#1d1d1f}table{border-collapse:collapse;margin:.5em 0 1.5em}th,td{border-bottom:1px solid
#ddd;padding:.2em .6em;text-align:left}td.n{text-align:right;font-variant-numeric:tabular-nums}
h2{margin-top:2em}svg text{font-size:11px;fill:#333}.meta{color:#666}"""
BAR_W, ROW_H, LABEL_W = 520, 16, 220


def slug(title: str) -> str:
    """A file name for a report: ``Mean time to recovery, per watch`` → ``mean-time-...``."""
    return "-".join("".join(c if c.isalnum() else " " for c in title.lower()).split())


def to_csv(report: Report) -> str:
    """One report as CSV (header row first)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(report.columns)
    writer.writerows(report.rows)
    return buf.getvalue()


def _num(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _table(report: Report) -> str:
    head = "".join(f"<th>{escape(str(c))}</th>" for c in report.columns)
    body = "".join(
        "<tr>"
        + "".join(
            f"<td class=n>{v:g}</td>" if _num(v) else f"<td>{escape(str(v))}</td>" for v in row
        )
        + "</tr>"
        for row in report.rows
    )
    if not report.rows:
        return "<p class=meta>nothing in this period</p>"
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def stacked_bars(labels: Sequence[str], parts: Sequence[Sequence[float]], title: str) -> str:
    """Horizontal bars split by severity (``parts[i][level]`` seconds), with a legend."""
    height = ROW_H * len(labels) + 24
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{LABEL_W + BAR_W + 10}" '
        f'height="{height}" role="img" aria-label="{escape(title)}">'
    ]
    for i, (label, row) in enumerate(zip(labels, parts, strict=True)):
        y, total, x = i * ROW_H, sum(row) or 1.0, float(LABEL_W)
        out.append(
            f'<text x="{LABEL_W - 6}" y="{y + 12}" text-anchor="end">{escape(label[:40])}</text>'
        )
        for lv, secs in enumerate(row):
            w = BAR_W * secs / total
            if w <= 0:
                continue
            sev = Severity(lv)
            out.append(
                f'<rect x="{x:.1f}" y="{y + 2}" width="{w:.1f}" height="{ROW_H - 4}" '
                f'fill="{sev.colour}"><title>{escape(label)}: {sev.korean} '
                f"{sev.name.lower()} {secs:g} s</title></rect>"
            )
            x += w
    x = float(LABEL_W)
    for sev in Severity:  # the legend names every colour
        out.append(
            f'<rect x="{x}" y="{height - 16}" width="10" height="10" fill="{sev.colour}"/>'
            f'<text x="{x + 13}" y="{height - 7}">{sev.korean} {sev.name.lower()}</text>'
        )
        x += 104
    out.append("</svg>")
    return "".join(out)


def bars(labels: Sequence[str], values: Sequence[float], unit: str, title: str) -> str:
    """Plain horizontal bars of ``values`` with their number at the end."""
    top = max(values, default=0) or 1.0
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{LABEL_W + BAR_W + 80}" '
        f'height="{ROW_H * len(labels) + 4}" role="img" aria-label="{escape(title)}">'
    ]
    for i, (label, v) in enumerate(zip(labels, values, strict=True)):
        y, w = i * ROW_H, BAR_W * v / top
        out.append(
            f'<text x="{LABEL_W - 6}" y="{y + 12}" text-anchor="end">{escape(label[:40])}'
            f'</text><rect x="{LABEL_W}" y="{y + 2}" width="{w:.1f}" height="{ROW_H - 4}" '
            f'fill="#2b6cb0"/><text x="{LABEL_W + w + 4:.1f}" y="{y + 12}">{v:g} {unit}'
            "</text>"
        )
    out.append("</svg>")
    return "".join(out)


def _chart(report: Report) -> str:
    cols, rows = report.columns, report.rows[:25]
    if not rows:
        return ""
    if "normal_s" in cols:
        first = cols.index("normal_s")
        label_cols = [i for i, c in enumerate(cols[:first]) if c not in ("series",)]
        labels = [" ".join(str(r[i]) for i in label_cols) for r in rows]
        parts = [[float(v) for v in r[first : first + len(Severity)]] for r in rows]
        return stacked_bars(labels, parts, report.title)
    for key, unit in (("mttr_s", "s"), ("events", "events"), ("avg", "")):
        if key in cols:
            i = cols.index(key)
            labels = [f"{r[0]} {r[1]}".strip() for r in rows]
            return bars(labels, [float(r[i]) for r in rows], unit, report.title)
    return ""


def to_html(reports: Sequence[Report], w: Window, note: str = "") -> str:
    """One self-contained HTML document of every report, each with its chart."""
    span = " → ".join(
        time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(t / 1000)) for t in (w.start_ms, w.end_ms)
    )
    parts = [
        f"<!doctype html><html lang=ko><meta charset=utf-8><title>Gamsi report {span}"
        f"</title><style>{STYLE}</style><h1>감시 Gamsi report</h1>"
        f"<p class=meta>{escape(span)}{(' · ' + escape(note)) if note else ''}</p>"
    ]
    for r in reports:
        parts.append(f"<h2>{escape(r.title)}</h2>{_chart(r)}{_table(r)}")
    parts.append("</html>")
    return "".join(parts)


__all__ = ["bars", "slug", "stacked_bars", "to_csv", "to_html"]
