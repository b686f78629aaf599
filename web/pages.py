"""HTML of the status page's views: the layout, the overview's shell, login, the timeline.

Every value that comes from the field — host, item, instance, watch, message, a
recipient, an ack's author or comment — goes through :func:`e` (``html.escape`` with
quotes), in text and in attributes alike; URLs carry names through :func:`u`
(percent-encoding). The pages run no inline script (the Content-Security-Policy of
:mod:`gamsi.web.app` forbids it): behaviour lives in ``static/app.js`` and data reach
it through ``data-`` attributes and the JSON API.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from html import escape
from typing import Any
from urllib.parse import quote

from gamsi.schemas.records import Severity

NAV = (("/", "현황 Overview"), ("/timeline", "타임라인 Timeline"))


def e(value: Any) -> str:
    """Text or attribute value, escaped (``<``, ``>``, ``&``, both quotes)."""
    return escape("" if value is None else str(value), quote=True)


def u(value: str) -> str:
    """One path segment, percent-encoded (a host name may hold ``/``, ``?``, ``#``)."""
    return quote(value, safe="")


def when(ts: float) -> str:
    """``YYYY-MM-DD HH:MM:SS`` UTC, or '' for 0."""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(ts)) if ts else ""


def badge(severity: int) -> str:
    """A level as colour *and* words: ``<span class="sev s3">위험 danger</span>``."""
    sev = Severity(min(max(int(severity), 0), 5))
    return f'<span class="sev s{int(sev)}">{sev.korean} {sev.name.lower()}</span>'


def layout(title: str, body: str, active: str = "", page: str = "") -> str:
    """A whole document: head, navigation, ``body`` (already escaped HTML)."""
    links = "".join(
        f'<a href="{href}"{" class=on" if href == active else ""}>{label}</a>'
        for href, label in NAV
    )
    return (
        "<!doctype html><html lang=ko><head><meta charset=utf-8>"
        '<meta name=viewport content="width=device-width, initial-scale=1">'
        f"<title>{e(title)} · Gamsi 감시</title>"
        '<link rel=stylesheet href="/static/app.css">'
        '<script defer src="/static/app.js"></script></head>'
        f'<body data-page="{e(page)}"><header><b class=logo>감시 Gamsi</b>'
        f"<nav>{links}</nav></header><main>{body}</main></body></html>"
    )


def table(head: Sequence[str], rows: Iterable[Sequence[str]], empty: str) -> str:
    """A table of already-escaped cells, or ``empty`` (a sentence) when there are no rows."""
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in rows)
    if not body:
        return f'<p class="empty">{e(empty)}</p>'
    heads = "".join(f"<th>{e(h)}</th>" for h in head)
    return f"<table class=list><thead><tr>{heads}</tr></thead><tbody>{body}</tbody></table>"


def overview() -> str:
    """The overview's shell: counts, filters, grid and unregistered items fill in by script."""
    levels = "".join(
        f'<option value="{int(s)}">{s.korean} {s.name.lower()} ≥</option>' for s in Severity
    )
    body = (
        "<section id=counts class=counts aria-live=polite></section>"
        "<form id=filters class=filters>"
        f"<label>심각도 Severity <select name=sev>{levels}</select></label>"
        '<label>태그 Tag <select name=tag><option value="">(all)</option></select></label>'
        '<label>OS <select name=os><option value="">(all)</option></select></label>'
        '<label>이름 Name <input name=name placeholder="web-* (glob)"></label>'
        "<span id=live class=live>connecting…</span></form>"
        "<p id=legend class=legend></p>"
        "<div id=grid class=grid><p class=empty>loading the picture…</p></div>"
        "<section id=unregistered><h2>미등록 Unregistered items</h2>"
        "<p id=unreg-msg class=msg></p><div id=unreg-list>"
        "<p class=empty>loading…</p></div></section>"
    )
    return layout("Overview", body, "/", "overview")


def login(message: str = "") -> str:
    """The token form (the script posts it as JSON; the answer sets an HttpOnly cookie)."""
    body = (
        "<h1>로그인 Sign in</h1><form id=login class=login method=post action=/login>"
        "<label>Token <input type=password name=token autocomplete=current-password "
        "autofocus></label> <button>Sign in</button></form>"
        f"<p id=login-msg class=msg>{e(message)}</p>"
    )
    return layout("Sign in", body, "", "login")


def maintenance_html(windows: Sequence[dict[str, Any]]) -> str:
    """The maintenance windows of the routing file, active ones first."""
    rows = [
        [
            e(w["name"]),
            ("<b class=active>active now</b>" if w["active"] else "not active"),
            e(", ".join(w["hosts"]) or "-"),
            e(", ".join(w["tags"]) or "-"),
            e(w["when"]),
        ]
        for w in sorted(windows, key=lambda w: (not w["active"], w["name"]))
    ]
    return "<h2>점검 Maintenance windows</h2>" + table(
        ("name", "state", "hosts", "tags", "when"), rows, "no maintenance window is configured"
    )


def timeline(
    entries: Sequence[dict[str, Any]], windows: Sequence[dict[str, Any]], note: str = ""
) -> str:
    """The fleet's event timeline, newest first: events and acknowledgements.

    An event entry has the event's fields plus ``open`` (its problem is open now),
    ``acked_by`` and ``muted`` (an active maintenance window covers its host); an ack
    entry has ``kind: "ack"``, ``event_id``, ``by``, ``comment`` and ``ts``.
    """
    rows = []
    for x in entries:
        if x.get("kind") == "ack":
            rows.append(
                f'<li class="ack" data-event="{e(x["event_id"])}"><time>{when(x["ts"])}</time>'
                f" <b>확인 acknowledged</b> by {e(x['by'])} — event <code>{e(x['event_id'])}"
                f"</code>{(' — ' + e(x['comment'])) if x.get('comment') else ''}</li>"
            )
            continue
        action = ""
        if x.get("acked_by"):
            action = f"<span class=acked>확인 acked by {e(x['acked_by'])}</span>"
        elif x.get("open"):
            action = f'<button class=ack data-event="{e(x["event_id"])}">확인 Acknowledge</button>'
        muted = "<span class=muted>점검 maintenance</span>" if x.get("muted") else ""
        where = f"{x['item']} {x['instance']}".strip()
        rows.append(
            f'<li class="ev s{int(x["severity"])}" data-event="{e(x["event_id"])}">'
            f"<time>{when(x['ts'])}</time> {badge(x['severity'])} "
            f'<a href="/host/{e(u(x["host"]))}">{e(x["host"])}</a> {e(where)} '
            f"<span class=tr>{e(x['transition'])}</span> {e(x.get('message', ''))} "
            f"{muted}{action}</li>"
        )
    listing = (f'<ol id=timeline class=timeline>{"".join(rows)}</ol>' if rows else
               '<p class=empty>no event yet</p>')  # fmt: skip
    body = (
        '<p><label>이름 Your name <input id=ack-by placeholder=web></label></p>'
        + '<p id=ack-msg class=msg></p>'
        # The script swaps #live-part for a fresh copy when events arrive (no reload).
        + f"<div id=live-part>{maintenance_html(windows)}<h2>타임라인 Event timeline</h2>"
        + (f'<p class=msg>{e(note)}</p>' if note else "")
        + f"{listing}</div>"
    )  # fmt: skip
    return layout("Timeline", body, "/timeline", "timeline")


__all__ = ["badge", "e", "layout", "login", "overview", "table", "timeline", "u", "when"]
