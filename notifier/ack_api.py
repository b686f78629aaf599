"""The acknowledgement API over HTTP, for chat-ops bots, dashboards and on-call tools.

``POST /ack/{event_id}`` with a JSON body ``{"by": "...", "comment": "..."}`` (or
none) acknowledges the open problem the event belongs to, exactly as
``gamsi ack EVENT`` does (:func:`gamsi.notifier.ack.acknowledge`), and answers the
record written. It listens on 127.0.0.1 behind :mod:`gamsi.http_guard`:

* it needs ``Authorization: Bearer <[notifier] api_token>``; with no token set,
  acknowledging over HTTP is refused (403) — nobody on the host can silence an
  alert with one curl;
* only ``Content-Type: application/json`` and same-origin requests (a web page
  elsewhere cannot ack by a cross-site POST);
* an id that names no open problem — forged, future, already recovered — is
  refused with 404 and nothing is written; 503 when Kafka does not answer.

``GET /health`` answers ``{"status": "ok"}`` without a token.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from aiohttp import web
from aiokafka.errors import KafkaError

from gamsi.http_config import endpoint_token
from gamsi.http_guard import (
    Guard,
    Served,
    changes_state,
    guarded_app,
    json_body,
    json_error,
    json_response,
    public,
    serve,
)
from gamsi.logs import RateLimitFilter
from gamsi.notifier.ack import AckError, acknowledge
from gamsi.settings import Settings

if TYPE_CHECKING:
    from gamsi.metrics import SelfReport

log = logging.getLogger(__name__)
log.addFilter(RateLimitFilter(60.0))
HOST = "127.0.0.1"
MAX_TEXT = 1000  # characters of "by" and "comment" kept
MAX_CONCURRENT = 4
"""Acks handled at once: each reads the ledger and writes one record with a Kafka client of
its own, so a burst waits its turn (within [http] request_timeout) rather than opening
hundreds of clients and their sockets."""


def make_guard(settings: Settings) -> Guard:
    """The API's guard: its token from ``[notifier] api_token`` / ``api_token_file``."""
    n = settings.notifier
    token = endpoint_token(n.api_token, n.api_token_file, "[notifier] api_token")
    return Guard("ack API", token, "[notifier] api_token or api_token_file", settings.http)


def build_app(
    settings: Settings, guard: Guard | None = None, report: SelfReport | None = None
) -> web.Application:
    """The aiohttp application (``guard`` defaults to :func:`make_guard`); with ``report``,
    ``/health`` and ``/metrics`` are the notifier's (:mod:`gamsi.metrics`)."""
    turns = asyncio.Semaphore(MAX_CONCURRENT)

    @changes_state
    async def ack(request: web.Request) -> web.Response:
        event_id = request.match_info["event_id"]
        body = await json_body(request, empty={})
        if not isinstance(body, dict) or not all(
            isinstance(body.get(k, ""), str) for k in ("by", "comment")
        ):
            return json_error(400, 'body: expected {"by": str, "comment": str}')
        by = body.get("by", "")[:MAX_TEXT] or "api"
        try:
            async with turns:
                record = await acknowledge(
                    settings, event_id, by=by, comment=body.get("comment", "")[:MAX_TEXT]
                )
        except AckError as exc:
            return json_error(404, str(exc))
        except KafkaError as exc:
            log.warning("ack API: Kafka did not answer: %s", type(exc).__name__)
            return json_error(503, "Kafka is not answering; try again", {"Retry-After": "5"})
        log.info("event %s acknowledged by %s through the API", event_id[:200], record["by"])
        return json_response(record)

    @public
    async def health(request: web.Request) -> web.Response:
        return json_response({"status": "ok"})

    app = guarded_app(guard or make_guard(settings))
    app.router.add_post("/ack/{event_id}", ack)
    if report is None:
        app.router.add_get("/health", health)
    else:
        report.add_routes(app)
    return app


async def start_ack_api(settings: Settings, report: SelfReport | None = None) -> Served | None:
    """Serve the API unless ``[notifier] ack_port`` is 0; the caller calls ``cleanup()``."""
    port = settings.notifier.ack_port
    if not port:
        return None
    guard = make_guard(settings)
    try:
        served = await serve(build_app(settings, guard, report), guard, HOST, port)
    except OSError as exc:
        # Notifying matters more than the API: run without it, loudly.
        log.error(
            "acknowledgement API not started: %s:%d: %s; set [notifier] ack_port", HOST, port, exc
        )
        return None
    if not guard.token:
        log.warning(
            "acknowledgement API on http://%s:%d refuses every ack until [notifier] api_token "
            "or api_token_file is set",
            HOST,
            port,
        )
    log.info("acknowledgement API on http://%s:%d/ack/<event_id>", HOST, port)
    return served
