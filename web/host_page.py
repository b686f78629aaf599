"""The server page: each watched item's history chart, its events, notifications, remediations.

Charts come from history (:func:`gamsi.web.history.series_sql`): raw samples when
the window is at most ``[web] chart_raw_hours``, the 1-minute rollup beyond. The
thresholds drawn are the levels of the enabled watches that judge the series in the
policy in force; the shaded periods come from the series' events in the window
(before its first event the series was at that event's ``previous`` level).
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from typing import Any

from gamsi.settings import Settings
from gamsi.streams.policy.model import Policy
from gamsi.web import history as H
from gamsi.web.chart import Period, periods_from_events, svg_chart
from gamsi.web.live import Live
from gamsi.web.pages import badge, e, layout, table, u, when

WINDOWS = (1, 6, 24, 168)
"""Hours a server page offers (the ``hours`` query parameter accepts 0 < h ≤ 8784)."""


def thresholds_for(
    policy: Policy | None, host: str, os_name: str, tags: tuple[str, ...], item: str, inst: str
) -> list[tuple[int, float]]:
    """``(severity, threshold)`` of every level of the enabled watches judging the series."""
    if policy is None:
        return []
    from gamsi.streams.policy.match import enabled_watches

    out = []
    for watch in enabled_watches(policy, host, os_name, tags):
        if watch.item == item and watch.covers_instance(inst):
            out.extend((int(lv.severity), float(lv.threshold)) for lv in watch.levels)
    return sorted(set(out))


async def _rows(access: H.HistoryAccess, sql: str) -> tuple[list[list[Any]], str]:
    try:
        return (await access.query(sql)).rows, ""
    except H.HistoryUnavailable as exc:
        return [], str(exc)


async def render(
    settings: Settings,
    live: Live,
    access: H.HistoryAccess,
    policy: Policy | None,
    host: str,
    hours: float,
) -> str | None:
    """The page's HTML, or None when the host is neither in the picture nor in history."""
    end = time.time()
    start = end - hours * 3600
    raw = hours <= settings.web.chart_raw_hours
    (series, err1), (events, err2), (deliveries, _), (remeds, _) = await asyncio.gather(
        _rows(access, H.series_sql(host, start, end, raw)),
        _rows(access, H.events_sql(1000, host=host, since=start)),
        _rows(access, H.deliveries_sql(host)),
        _rows(access, H.remediations_sql(host)),
    )
    cells = {k: c for k, c in live.status.cells.items() if k[0] == host}
    if not cells and not series and not events:
        return None
    info = live.status.hosts.get(host)
    os_name, tags = (info.os, info.tags) if info else ("", ())
    if not os_name:  # known from events only so far: history's hosts table says more
        found, _ = await _rows(access, H.host_sql(host))
        if found:
            os_name, tags = str(found[0][0]), tuple(found[0][1])
    points: dict[tuple[str, str], list[tuple[float, float, float, float]]] = defaultdict(list)
    for item, inst, t, avg, mn, mx in series:
        points[(item, inst)].append((float(t) / 1000, float(avg), float(mn), float(mx)))
    evs = [H.event_row(r) for r in events]
    by_watch: dict[tuple[str, str, str], list[tuple[float, int, int]]] = defaultdict(list)
    for ev in reversed(evs):  # oldest first
        by_watch[(ev["item"], ev["instance"], ev["watch"])].append(
            (ev["ts"], int(ev["severity"]), int(ev["previous"]))
        )
    # Charts for the series a watch judges (or that had an event), worst first; the
    # other reported items are named below them.
    judged = {
        k: thresholds_for(policy, host, os_name, tags, *k)
        for k in {(c[1], c[2]) for c in cells} | set(points)
    }
    keys = [k for k in judged if (host, *k) in cells or judged[k]]
    keys.sort(key=lambda k: (-int(cells[(host, *k)].severity) if (host, *k) in cells else 0, k))
    others = sorted({f"{i} {n}".strip() for i, n in judged if (i, n) not in keys})
    charts = []
    for item, inst in keys:
        cell = cells.get((host, item, inst))
        periods: list[Period] = []
        for watch in {w for (i, n, w) in by_watch if (i, n) == (item, inst)} | set(
            cell.watches if cell else ()
        ):
            current = cell.watches.get(watch, {}).get("severity", 0) if cell else 0
            periods += periods_from_events(by_watch.get((item, inst, watch), []), start, end,
                                           current)  # fmt: skip
        name = f"{item} {inst}".strip()
        level = badge(int(cell.severity)) if cell else ""
        chart = svg_chart(
            points.get((item, inst), []),
            start,
            end,
            judged[(item, inst)],
            periods,
            title=f"{host} {name}",
        )
        charts.append(
            f'<figure class=item data-item="{e(item)}" data-instance="{e(inst)}">'
            f"<figcaption>{e(name)} {level}</figcaption>{chart}</figure>"
        )
    windows = " ".join(
        f'<a href="/host/{e(u(host))}?hours={h}"{" class=on" if h == hours else ""}>'
        f"{h if h < 24 else h // 24}{'h' if h < 24 else 'd'}</a>"
        for h in WINDOWS
    )
    source = "raw samples" if raw else "1-minute rollup (avg, min–max band)"
    note = "".join(f"<p class=msg>{e(x)}</p>" for x in {err1, err2} if x)
    body = (
        f"<h1>{e(host)}</h1><p class=meta>OS {e(os_name or '?')} · tags "
        f"{e(', '.join(tags) or '-')} · window {windows} · {e(source)}</p>{note}"
        f"<section class=charts>{''.join(charts) or '<p class=empty>no watched item</p>'}"
        "</section>"
        + (f"<p class=meta>also reported, not watched: {e(', '.join(others))}" if others else "")
        + _events_html(evs)
        + _deliveries_html(deliveries)
        + _remediations_html(remeds)
    )
    return layout(host, body, "", "host")


def _events_html(evs: list[dict[str, Any]]) -> str:
    rows = [
        [when(x["ts"]), badge(x["severity"]), e(f"{x['item']} {x['instance']}".strip()),
         e(x["watch"]), e(x["transition"]), e(f"{x['value']:.4g}"), e(x["message"]),
         f"<code>{e(x['event_id'])}</code>"]
        for x in evs[:200]
    ]  # fmt: skip
    return "<h2>이벤트 Events</h2>" + table(
        ("time", "level", "item", "watch", "transition", "value", "message", "event"),
        rows,
        "no event in this window",
    )


def _deliveries_html(rows: list[list[Any]]) -> str:
    out = [
        [when(float(r[0]) / 1000), e(r[3]), e(r[4]), e(r[2]), badge(r[7]),
         e(f"{r[5]} {r[6]}".strip()), e(r[8]), e(r[9]), e(r[10]), e(r[11])]
        for r in rows
    ]  # fmt: skip
    return "<h2>알림 Notifications</h2>" + table(
        ("time", "channel", "recipient", "route", "level", "item", "transition", "result",
         "attempts", "error"),
        out,
        "no notification recorded for this server",
    )  # fmt: skip


def _remediations_html(rows: list[list[Any]]) -> str:
    out = [
        [when(float(r[0]) / 1000), e(r[1]), e(" ".join([r[2], *r[3]]).strip()), e(r[4]),
         e(r[5]), e(r[6]), e(f"{float(r[7]):.2f} s"), e(f"{r[8]} {r[9]}".strip()), e(r[10]),
         e(r[11])]
        for r in rows
    ]  # fmt: skip
    return "<h2>복구 Remediation runs</h2>" + table(
        ("time", "status", "script", "runs on", "reason", "exit", "took", "item", "watch", "by"),
        out,
        "no remediation run for this server",
    )


__all__ = ["WINDOWS", "render", "thresholds_for"]
