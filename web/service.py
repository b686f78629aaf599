"""The web service loop: ``gamsi web run`` serves the status page until stopped.

:func:`run` listens on ``[web] host:port`` behind the HTTP guard at once (the page
says "rebuilding" until the picture is ready), builds the picture from history and
the events and acks topics, and follows both topics so each cell changes on the page
within the time it takes to read its event (:mod:`gamsi.web.live`). Nothing is kept
on disk: a restart rebuilds the same picture.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from gamsi.http_guard import serve
from gamsi.metrics import SelfReport
from gamsi.settings import Settings
from gamsi.web.app import build_app, make_guard
from gamsi.web.feed import follow
from gamsi.web.history import HistoryAccess
from gamsi.web.live import Live

log = logging.getLogger(__name__)


async def run(settings: Settings, stop: asyncio.Event, ready: asyncio.Event | None = None) -> None:
    """Serve the status page until ``stop`` is set; ``ready`` (if given) is set once it
    listens. Raises OSError when ``[web] host:port`` cannot be bound."""
    from gamsi.topics import ensure_topics

    await ensure_topics(settings)
    w = settings.web
    guard = make_guard(settings)
    live = Live(w.timeline_events)
    access = HistoryAccess(settings)
    app = build_app(settings, live, access, guard)
    report = SelfReport(settings, "web")  # /metrics beside the page's own /health
    report.add_routes(app, health=False)
    served = await serve(app, guard, w.host, w.port)
    await report.start()
    if not guard.token:
        log.warning(
            "status page on http://%s:%d has no token: anyone who reaches it sees the fleet, "
            "and acknowledging and registering are refused until [web] token is set",
            w.host,
            served.port,
        )
    log.info("status page on http://%s:%d/", w.host, served.port)
    if ready is not None:
        ready.set()
    feed = asyncio.create_task(follow(settings, live, access.run, stop))
    try:
        await stop.wait()
    finally:
        live.closing.set()
        feed.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await feed
        await served.cleanup()
        await report.close()
        access.close()


__all__ = ["run"]
