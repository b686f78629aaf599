"""The acknowledgement API over HTTP, for chat-ops bots, dashboards and on-call tools.

``POST /ack/{event_id}`` with an optional JSON body ``{"by": "...", "comment": "..."}``
writes the same record as `gamsi ack EVENT` (see :mod:`gamsi.notifier.ack`) and
answers it back. It listens on 127.0.0.1 only: put an authenticating reverse proxy
in front of it to expose it further.
"""

from __future__ import annotations

import logging

import orjson
from aiohttp import web

from gamsi.notifier.ack import acknowledge
from gamsi.settings import Settings

log = logging.getLogger(__name__)
HOST = "127.0.0.1"


def build_app(settings: Settings) -> web.Application:
    async def ack(request: web.Request) -> web.Response:
        event_id = request.match_info["event_id"]
        body = {}
        if request.can_read_body:
            try:
                body = orjson.loads(await request.read())
            except orjson.JSONDecodeError as exc:
                return _json({"error": f"body: expected JSON: {exc}"}, 400)
            if not isinstance(body, dict) or not all(
                isinstance(body.get(k, ""), str) for k in ("by", "comment")
            ):
                return _json({"error": 'body: expected {"by": str, "comment": str}'}, 400)
        record = await acknowledge(
            settings, event_id, by=body.get("by", "") or "api", comment=body.get("comment", "")
        )
        log.info("event %s acknowledged by %s through the API", event_id, record["by"])
        return _json(record)

    async def health(request: web.Request) -> web.Response:
        return _json({"status": "ok"})

    app = web.Application()
    app.router.add_post("/ack/{event_id}", ack)
    app.router.add_get("/health", health)
    return app


def _json(body: object, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(body), status=status, content_type="application/json")


async def start_ack_api(settings: Settings) -> web.AppRunner | None:
    """Serve the API unless ``[notifier] ack_port`` is 0; the caller cleans the runner up."""
    port = settings.notifier.ack_port
    if not port:
        return None
    runner = web.AppRunner(build_app(settings), access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, HOST, port).start()
    except OSError as exc:
        # Notifying matters more than the API: run without it, loudly.
        log.error(
            "acknowledgement API not started: %s:%d: %s; set [notifier] ack_port", HOST, port, exc
        )
        await runner.cleanup()
        return None
    log.info("acknowledgement API on http://%s:%d/ack/<event_id>", HOST, port)
    return runner
