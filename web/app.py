"""The status page's HTTP application, behind :mod:`gamsi.http_guard` like every endpoint.

Views (each needs the token when ``[web] token`` is set; a browser without it is sent
to ``/login``, which stores it in an HttpOnly, SameSite=Strict cookie):

* ``GET /`` overview; ``GET /api/cells`` the whole picture (:meth:`Live.snapshot`);
  ``GET /api/stream`` server-sent events of changed cells after ``?after=SEQ``
  (or ``Last-Event-ID``): ``event: cell`` with a cell row, ``event: reset`` to reload;
* ``GET /api/unregistered`` hosts with unregistered items (미등록);
* ``GET /host/{host}`` the server page; ``GET /timeline`` events, acks, maintenance.

Actions (:func:`~gamsi.http_guard.changes_state`: token always, JSON, same origin):
``POST /api/ack/{event_id}`` (as ``gamsi ack``) and ``POST /api/register/{host}``
(as ``gamsi policy register --defaults`` followed by ``gamsi policy apply``).

Every answer carries a Content-Security-Policy without inline script, so a host
name that slipped past escaping still could not run.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiohttp import web
from aiokafka.errors import KafkaError

from gamsi.http_config import endpoint_token
from gamsi.http_guard import (
    TOKEN_COOKIE,
    Guard,
    changes_state,
    guarded_app,
    json_body,
    json_error,
    json_response,
    public,
    streaming,
)
from gamsi.settings import Settings
from gamsi.web import pages
from gamsi.web.history import HistoryAccess, HistoryUnavailable
from gamsi.web.live import Live

log = logging.getLogger(__name__)
STATIC = Path(__file__).parent / "static"
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
ACK_SEEN_WITHIN = 5.0
"""Seconds an ack from the page waits to be read back from the acks topic, so the
timeline the page reloads already shows it."""
POLICY_TTL = 10.0


def make_guard(settings: Settings) -> Guard:
    """The page's guard: its token from ``[web] token`` / ``token_file``."""
    w = settings.web
    token = endpoint_token(w.token, w.token_file, "[web] token")
    return Guard("status page", token, "[web] token or token_file", settings.http)


class Handlers:
    """The routes' handlers; ``live`` is the picture, ``access`` history."""

    def __init__(self, settings: Settings, live: Live, access: HistoryAccess, guard: Guard):
        self.settings = settings
        self.live = live
        self.access = access
        self.guard = guard
        self.streams = 0
        self._policy: tuple[float, Any] = (0.0, None)
        self._register_lock = asyncio.Lock()

    async def policy(self) -> Any:
        """The policy in force, cached for :data:`POLICY_TTL` seconds (None if unreadable)."""
        from gamsi.web.policy import policy_in_force

        at, policy = self._policy
        if time.monotonic() - at > POLICY_TTL:
            try:
                policy = (await policy_in_force(self.settings))[0]
            except Exception as exc:  # a bad policy file: thresholds are not drawn
                log.warning("status page: policy in force not read: %s", exc)
                policy = None
            self._policy = (time.monotonic(), policy)
        return policy

    async def overview(self, request: web.Request) -> web.Response:
        return _html(pages.overview())

    @public
    async def login_page(self, request: web.Request) -> web.Response:
        return _html(pages.login())

    @public
    async def login(self, request: web.Request) -> web.StreamResponse:
        """Check the token and store it in an HttpOnly, SameSite=Strict cookie. JSON
        ``{"token": ...}`` from the page's script, or the form itself when scripts are off
        (then the answer redirects to ``/``); either way the token never enters a URL."""
        form = request.content_type == "application/x-www-form-urlencoded"
        if form:
            body: Any = dict(await request.post())
        else:
            body = await json_body(request, empty={})
        given = body.get("token") if isinstance(body, dict) else None
        if not isinstance(given, str) or not self.guard.token:
            return json_error(400, 'body: expected {"token": str}; is [web] token set?')
        if not hmac.compare_digest(given.encode(), self.guard.token.encode()):
            await asyncio.sleep(0.5)  # slows guessing; the connection cap bounds parallel tries
            if form:
                return _html(pages.login("wrong token"), 401)
            return json_error(401, "wrong token")
        response: web.Response = (
            web.Response(status=303, headers={"Location": "/"}) if form
            else json_response({"ok": True})
        )  # fmt: skip
        response.set_cookie(TOKEN_COOKIE, given, httponly=True, samesite="Strict", path="/",
                            secure=request.secure)  # fmt: skip
        return response

    @public
    async def health(self, request: web.Request) -> web.Response:
        """200 ``{"status": "ok"}`` once the picture is built (ready means ready: `gamsi up`
        and the compose healthcheck wait for it), 503 while it is being rebuilt."""
        if not self.live.ready:
            return json_response({"status": "rebuilding"}, 503, {"Retry-After": "1"})
        return json_response({"status": "ok"})

    async def cells(self, request: web.Request) -> web.Response:
        if not self.live.ready:
            return json_error(503, "rebuilding the picture; try again", {"Retry-After": "1"})
        return json_response(self.live.snapshot())

    @streaming
    async def stream(self, request: web.Request) -> web.StreamResponse:
        if self.streams >= self.settings.web.max_streams:
            return json_error(503, "too many live pages open ([web] max_streams)")
        raw = request.headers.get("Last-Event-ID") or request.query.get("after", "")
        try:
            after = self.live.seq if raw == "now" else int(raw)  # "now": changes from here on
        except ValueError:
            return json_error(400, "after: expected the sequence number of /api/cells or now")
        from gamsi.web.stream import send_changes

        self.streams += 1
        try:
            return await send_changes(request, self.live, after)
        finally:
            self.streams -= 1

    async def unregistered(self, request: web.Request) -> web.Response:
        from gamsi.web.policy import unregistered

        run = await asyncio.to_thread(self.access.run)
        if run is None:
            return json_error(503, "history is not reachable: the inventory comes from it")
        policy = await self.policy()
        if policy is None:
            return json_error(503, "the policy in force cannot be read; the service log says why")
        try:
            return json_response({"hosts": await unregistered(self.settings, run, policy)})
        except HistoryUnavailable as exc:
            return json_error(503, str(exc))

    @changes_state
    async def register(self, request: web.Request) -> web.Response:
        from gamsi.web.policy import RegisterError, register_defaults

        host = request.match_info["host"]
        run = await asyncio.to_thread(self.access.run)
        if run is None:
            return json_error(503, "history is not reachable: the inventory comes from it")
        try:
            async with self._register_lock:
                result = await register_defaults(self.settings, run, host)
        except RegisterError as exc:
            return json_error(409, str(exc))
        except (KafkaError, OSError) as exc:
            return json_error(503, f"not applied: {type(exc).__name__}: {exc}")
        self._policy = (0.0, None)
        log.info("status page: registered %d watches for %s", result["registered"], host[:200])
        return json_response(result)

    @changes_state
    async def ack(self, request: web.Request) -> web.Response:
        from gamsi.notifier.ack import AckError, acknowledge

        event_id = request.match_info["event_id"]
        body = await json_body(request, empty={})
        if not isinstance(body, dict) or not all(
            isinstance(body.get(k, ""), str) for k in ("by", "comment")
        ):
            return json_error(400, 'body: expected {"by": str, "comment": str}')
        by, comment = body.get("by", "")[:1000] or "web", body.get("comment", "")[:1000]
        try:
            record = await acknowledge(self.settings, event_id, by=by, comment=comment)
        except AckError as exc:
            return json_error(404, str(exc))
        except KafkaError as exc:
            return json_error(503, f"Kafka is not answering ({type(exc).__name__}); try again")
        await self.live.ack_seen(event_id, ACK_SEEN_WITHIN)
        return json_response(record)

    async def host(self, request: web.Request) -> web.Response:
        from gamsi.web.host_page import render

        try:
            hours = float(request.query.get("hours", "1"))
        except ValueError:
            hours = 0
        if not 0 < hours <= 8784:
            return json_error(400, "hours: expected a number of hours in (0, 8784]")
        host = request.match_info["host"]
        text = await render(self.settings, self.live, self.access, await self.policy(), host,
                            hours)  # fmt: skip
        if text is None:
            return _html(pages.layout("Unknown server", f"<p class=empty>no server named "
                                      f"{pages.e(host)}</p>"), 404)  # fmt: skip
        return _html(text)

    async def timeline(self, request: web.Request) -> web.Response:
        from gamsi.web.timeline import entries, maintenance_windows

        found, note = await entries(self.settings, self.live, self.access)
        windows = maintenance_windows(self.settings)
        return _html(pages.timeline(found, windows, note))

    @public
    async def favicon(self, request: web.Request) -> web.Response:
        return web.Response(status=204)

    @public
    async def static(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        if name not in {"app.js", "app.css"}:
            raise web.HTTPNotFound(text="no such asset")
        return web.FileResponse(STATIC / name, headers={"Cache-Control": "no-cache"})


def _html(text: str, status: int = 200) -> web.Response:
    return web.Response(text=text, status=status, content_type="text/html", charset="utf-8")


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def _headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Outermost: security headers on every answer; a browser page refused for want of
    the token is sent to ``/login`` instead of shown a JSON error."""
    response = await handler(request)
    nav = request.method == "GET" and "text/html" in request.headers.get("Accept", "")
    if response.status == 401 and nav and not request.path.startswith("/api/"):
        response = web.Response(status=303, headers={"Location": "/login"})
    if not response.prepared:
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
    return response


def build_app(
    settings: Settings, live: Live, access: HistoryAccess, guard: Guard | None = None
) -> web.Application:
    """The aiohttp application (``guard`` defaults to :func:`make_guard`)."""
    guard = guard or make_guard(settings)
    h = Handlers(settings, live, access, guard)
    app = guarded_app(guard)
    app.middlewares.insert(0, _headers)
    routes = [
        ("GET", "/", h.overview), ("GET", "/login", h.login_page), ("POST", "/login", h.login),
        ("GET", "/health", h.health), ("GET", "/api/cells", h.cells),
        ("GET", "/api/stream", h.stream), ("GET", "/api/unregistered", h.unregistered),
        ("POST", "/api/register/{host}", h.register), ("POST", "/api/ack/{event_id}", h.ack),
        ("GET", "/host/{host}", h.host), ("GET", "/timeline", h.timeline),
        ("GET", "/static/{name}", h.static), ("GET", "/favicon.ico", h.favicon),
    ]  # fmt: skip
    for method, path, handler in routes:
        app.router.add_route(method, path, handler)
    return app


__all__ = ["CSP", "build_app", "make_guard"]
