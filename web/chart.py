"""A server page's history chart as inline SVG, drawn on the server.

Why SVG from the server rather than a charting library in the browser: the page has
one chart per watched item and nothing to zoom, so a few hundred points per chart
drawn once are enough; the server already has the points, the thresholds and the
severity periods, so no second JSON API, no JavaScript library to vendor and keep
current, and the chart works with scripts off and prints. Every label is escaped
here (item names are field data), and the same function draws the report's charts.

Shapes, in the SVG's order: severity periods shaded in their level's colour, the
min–max band, the average line, then each threshold as a dashed line labelled with
its level's Korean name, so colour is never the only signal.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from gamsi.schemas.records import Severity

W, H = 760, 170
PAD_L, PAD_R, PAD_T, PAD_B = 52, 70, 10, 22


@dataclass(frozen=True)
class Period:
    """``[start, end)`` seconds at ``severity`` (shaded when above normal)."""

    start: float
    end: float
    severity: int


def _fmt(v: float) -> str:
    return f"{v:.4g}"


def _clock(ts: float, span: float) -> str:
    return time.strftime("%m-%d %H:%M" if span > 86_400 else "%H:%M", time.gmtime(ts))


def svg_chart(
    points: Sequence[tuple[float, float, float, float]],
    start: float,
    end: float,
    thresholds: Sequence[tuple[int, float]] = (),
    periods: Sequence[Period] = (),
    title: str = "",
) -> str:
    """An ``<svg>`` element of ``points`` (``(t s, avg, min, max)``) over ``[start, end]``.

    ``thresholds`` are ``(severity, value)`` lines; ``periods`` the shaded spans. Times
    are UTC seconds; the x axis is labelled in UTC. Empty ``points`` draws "no samples".
    """
    span = max(end - start, 1.0)
    values = [v for p in points for v in p[1:]] + [v for _, v in thresholds]
    lo, hi = (min(values), max(values)) if values else (0.0, 1.0)
    if hi - lo < 1e-9:
        lo, hi = lo - 1, hi + 1
    pad = (hi - lo) * 0.08
    lo, hi = lo - pad, hi + pad
    iw, ih = W - PAD_L - PAD_R, H - PAD_T - PAD_B

    def x(t: float) -> float:
        return PAD_L + (min(max(t, start), end) - start) / span * iw

    def y(v: float) -> float:
        return PAD_T + (hi - v) / (hi - lo) * ih

    out = [
        f'<svg class="chart" viewBox="0 0 {W} {H}" width="100%" role="img" '
        f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(title)}</title>",
        f'<rect x="{PAD_L}" y="{PAD_T}" width="{iw}" height="{ih}" class="plot"/>',
    ]
    for p in periods:
        if p.severity <= 0 or p.end <= start or p.start >= end:
            continue
        sev = Severity(min(max(p.severity, 0), 5))
        x0, x1 = x(p.start), x(p.end)
        out.append(
            f'<rect x="{x0:.1f}" y="{PAD_T}" width="{max(x1 - x0, 1):.1f}" height="{ih}" '
            f'fill="{sev.colour}" fill-opacity="0.22"><title>{escape(sev.korean)} '
            f"{sev.name.lower()} {_clock(p.start, span)}–{_clock(p.end, span)}</title></rect>"
        )
    if points:
        upper = " ".join(f"{x(t):.1f},{y(mx):.1f}" for t, _, _, mx in points)
        lower = " ".join(f"{x(t):.1f},{y(mn):.1f}" for t, _, mn, _ in reversed(points))
        out.append(f'<polygon class="band" points="{upper} {lower}"/>')
        line = " ".join(f"{x(t):.1f},{y(a):.1f}" for t, a, _, _ in points)
        out.append(f'<polyline class="line" points="{line}"/>')
        if len(points) < 3:  # a line through one or two samples is hardly seen: mark them
            out.extend(
                f'<circle class="dot" cx="{x(t):.1f}" cy="{y(a):.1f}" r="3"/>'
                for t, a, _, _ in points
            )
    else:
        cx, cy = PAD_L + iw / 2, PAD_T + ih / 2
        out.append(f'<text x="{cx}" y="{cy}" class="none">no samples</text>')
    last_label = -100.0
    for sev_n, value in sorted(thresholds, key=lambda t: -t[1]):  # top to bottom
        sev = Severity(min(max(sev_n, 0), 5))
        yy = y(value)
        ly = max(yy + 4, last_label + 11)  # labels of close thresholds do not overlap
        last_label = ly
        out.append(
            f'<line x1="{PAD_L}" x2="{PAD_L + iw}" y1="{yy:.1f}" y2="{yy:.1f}" '
            f'stroke="{sev.colour}" class="thr"/>'
            f'<text x="{PAD_L + iw + 4}" y="{ly:.1f}" class="thr-l" fill="{sev.colour}">'
            f"{escape(sev.korean)} {_fmt(value)}</text>"
        )
    for v in (lo + pad, (lo + hi) / 2, hi - pad):
        out.append(f'<text x="{PAD_L - 4}" y="{y(v) + 4:.1f}" class="ax y">{_fmt(v)}</text>')
    for t in (start, start + span / 2, end):
        out.append(f'<text x="{x(t):.1f}" y="{H - 6}" class="ax x">{_clock(t, span)}</text>')
    out.append("</svg>")
    return "".join(out)


def periods_from_events(
    events: Sequence[tuple[float, int, int]], start: float, end: float, current: int = 0
) -> list[Period]:
    """Severity spans over ``[start, end]`` from ``(ts, severity, previous)`` events, oldest
    first (one series). Before the first event the series was at its ``previous``; with no
    event at all, at ``current`` throughout."""
    if not events:
        return [Period(start, end, current)] if current else []
    spans = [Period(start, events[0][0], events[0][2])]
    for (t0, sev, _), (t1, _, _) in itertools.pairwise(events):
        spans.append(Period(t0, t1, sev))
    spans.append(Period(events[-1][0], end, events[-1][1]))
    return [p for p in spans if p.severity > 0 and p.end > p.start]


__all__ = ["Period", "periods_from_events", "svg_chart"]
