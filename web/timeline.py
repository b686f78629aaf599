"""The fleet's event timeline: events from history and the topic, acks, maintenance windows.

Entries are the newest ``[web] timeline_events`` events — history's, plus those read
from the events topic since the service started (history may not have stored them
yet), each event once by its id — and the acknowledgements on the acks topic, newest
first. An event whose problem is open now can be acknowledged from the page (the
same path as ``gamsi ack``); one covered by an active maintenance window of the
routing file is marked, as the notifier mutes it.
"""

from __future__ import annotations

import logging
import time
from types import SimpleNamespace
from typing import Any

from gamsi.settings import Settings
from gamsi.web import history as H
from gamsi.web.live import Live

log = logging.getLogger(__name__)


def maintenance_windows(settings: Settings, now: float | None = None) -> list[dict[str, Any]]:
    """The routing file's maintenance windows: ``{name, hosts, tags, when, active, window}``
    (``window`` is the model object, for :func:`muted`). None configured: []."""
    path = settings.notifier.routing_file
    if not path:
        return []
    from gamsi.notifier.routing import load_routing

    try:
        config = load_routing(path)
    except Exception as exc:  # the notifier refuses the same file; the page says nothing more
        log.warning("timeline: routing file not read: %s", exc)
        return []
    now = time.time() if now is None else now
    out = []
    for m in config.maintenance:
        if m.window is not None:
            days = ",".join("MTWTFSS"[d] for d in sorted(m.window.days))
            spans = ", ".join(f"{a:%H:%M}–{b:%H:%M}" for a, b in m.window.ranges)
            what = f"every {days} {spans} ({m.window.tz.key})"
            active = m.window.active(now)
        else:
            what = f"{_utc(m.start)} → {_utc(m.end)}"
            active = (m.start or 0.0) <= now < (m.end or float("inf"))
        out.append({"name": m.name, "hosts": list(m.hosts), "tags": list(m.tags), "when": what,
                    "active": active, "window": m})  # fmt: skip
    return out


def _utc(ts: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(ts)) if ts else "…"


def muted(windows: list[dict[str, Any]], event: dict[str, Any], now: float) -> bool:
    """Does an active window cover the event's host (or its tags) now?"""
    # Maintenance.covers reads only the event's host and tags.
    probe = SimpleNamespace(host=str(event["host"]), tags=list(event.get("tags") or []))
    return any(w["window"].covers(probe, now) for w in windows)


def _open_and_acked(live: Live, event: dict[str, Any]) -> tuple[bool, str]:
    cell = live.status.cells.get((event["host"], event["item"], event["instance"]))
    state = cell.watches.get(event["watch"]) if cell else None
    if not state or state["severity"] == 0 or event["event_id"] not in state["problem"]:
        return False, ""
    return True, state["acked_by"]


async def entries(
    settings: Settings, live: Live, access: H.HistoryAccess
) -> tuple[list[dict[str, Any]], str]:
    """(entries newest first, a note when history could not be read)."""
    limit = settings.web.timeline_events
    note = ""
    try:
        rows = (await access.query(H.events_sql(limit))).rows
    except H.HistoryUnavailable as exc:
        rows, note = [], f"{exc} — showing the events read since the page's service started"
    seen: dict[str, dict[str, Any]] = {}
    for event in [*live.recent, *(H.event_row(r) for r in rows)]:
        seen.setdefault(str(event["event_id"]), dict(event))
    events = sorted(seen.values(), key=lambda x: x["ts"], reverse=True)[:limit]
    windows = maintenance_windows(settings)
    now = time.time()
    for event in events:
        event["open"], event["acked_by"] = _open_and_acked(live, event)
        event["muted"] = bool(windows) and muted(windows, event, now)
    acks = [
        {"kind": "ack", "event_id": a["event_id"], "by": a.get("by", ""),
         "comment": a.get("comment", ""), "ts": float(a.get("at", 0.0))}
        for a in live.acks.values()
    ]  # fmt: skip
    merged = sorted([*events, *acks], key=lambda x: x["ts"], reverse=True)
    return merged, note


__all__ = ["entries", "maintenance_windows", "muted"]
