"""Who may talk to Gamsi over HTTP, and how much: one guard for every endpoint Gamsi serves.

The ack API, the history query endpoint, the web service and ``/metrics`` are all
built with :func:`guarded_app` and served with :func:`serve`, so each one gets:

* **A token.** With a token configured, every request needs it
  (``Authorization: Bearer <token>``, or the ``gamsi_token`` cookie a browser
  page holds), except routes marked :func:`public` (health checks). A route
  marked :func:`changes_state` *always* needs it: with no token configured it is
  refused with 403 naming the setting to set, never open to anyone on the host.
  Tokens are compared in constant time and never appear in a response or a log.
* **No cross-site requests** (OWASP CSRF cheat sheet: "verifying origin with
  standard headers", "Fetch Metadata"): a request whose ``Origin`` is not the
  endpoint's own origin, or that a browser marks ``Sec-Fetch-Site: cross-site``
  (other than a top-level GET navigation), is refused; so is a ``Host`` other
  than loopback or ``[http] allowed_hosts`` (DNS rebinding).
* **JSON only for state changes**: ``Content-Type: application/json`` or 415,
  which a cross-site HTML form cannot send.
* **Bounds**: ``[http] request_timeout`` per request (408), the connection cap and
  the head/idle timeouts of :mod:`gamsi.http_conn`, and body sizes (413).
* **Quiet failure**: every refusal and error is a JSON ``{"error": ...}`` answer;
  an unexpected exception is a 500 and one log line per kind per minute (with
  its traceback once), never a traceback per request.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import orjson
from aiohttp import web

from gamsi.http_config import HttpSettings
from gamsi.http_conn import ConnectionLimits, GuardedConnection, connection_of, ensure_fd_limit
from gamsi.logs import rate_limit
from gamsi.masking import mask

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
TOKEN_COOKIE = "gamsi_token"
MAX_BODY = 64 * 1024
"""Default body limit in bytes (an ack is a few hundred; the query endpoint sets its own)."""

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_KIND = "__gamsi_http_kind__"


def changes_state(handler: Handler) -> Handler:
    """Mark a route as changing state: token always required, JSON body, same origin."""
    setattr(handler, _KIND, "changes_state")
    return handler


def public(handler: Handler) -> Handler:
    """Mark a route as open without a token (a health check that reveals nothing)."""
    setattr(handler, _KIND, "public")
    return handler


def streaming(handler: Handler) -> Handler:
    """Mark a long-lived route (server-sent events): exempt from ``request_timeout``."""
    setattr(handler, _KIND, "streaming")
    return handler


def json_response(
    body: Any, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    """An ``application/json`` response of ``body`` (orjson)."""
    return web.Response(
        body=orjson.dumps(body), status=status, headers=headers, content_type="application/json"
    )


def json_error(status: int, message: str, headers: dict[str, str] | None = None) -> web.Response:
    """The one error shape every endpoint answers: ``{"error": message}`` (URL credentials
    masked, :func:`gamsi.masking.mask`)."""
    return json_response({"error": mask(message)}, status, headers)


async def json_body(request: web.Request, empty: Any = None) -> Any:
    """The request's JSON body (``empty`` when there is none).

    Raises ``web.HTTPBadRequest`` ("body: expected JSON: ...") and, past the app's
    ``client_max_size``, ``web.HTTPRequestEntityTooLarge``; the guard answers both as JSON.
    """
    raw = await request.read()
    if not raw.strip():
        return empty
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise web.HTTPBadRequest(text=f"body: expected JSON: {exc}") from None


@dataclass
class Guard:
    """One endpoint's guard. ``name`` labels log lines and refusals ("ack API");
    ``token`` is its bearer token ('' = none configured); ``token_setting`` names the
    setting that holds it (``[notifier] api_token``), for the refusal's hint."""

    name: str
    token: str = ""
    token_setting: str = ""
    limits: HttpSettings = field(default_factory=HttpSettings)

    def __post_init__(self) -> None:
        self.connections = ConnectionLimits(
            self.name,
            self.limits.max_connections,
            self.limits.header_timeout,
            self.limits.idle_timeout,
        )
        self._hosts = LOOPBACK_HOSTS | {h.lower() for h in self.limits.allowed_hosts}

    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """aiohttp middleware: refuse what is not allowed, bound and contain the rest."""
        conn = connection_of(request.transport)
        if conn is not None:
            conn.busy()
        try:
            return await self._handle(request, handler)
        finally:
            if conn is not None:
                conn.idle()

    async def _handle(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        kind = getattr(request.match_info.handler, _KIND, "read")
        refusal = self.refusal(request, kind)
        if refusal is not None:
            status, message, headers = refusal
            self._log(logging.WARNING, request, "refused: %s", message)
            return json_error(status, message, headers)
        deadline = asyncio.timeout(None if kind == "streaming" else self.limits.request_timeout)
        try:
            async with deadline:
                return await handler(request)
        except web.HTTPException as exc:
            if exc.status < 400:
                raise
            headers = {k: v for k, v in exc.headers.items() if k.lower() == "allow"}
            return json_error(exc.status, exc.text or exc.reason, headers)
        except Exception as exc:
            if isinstance(exc, TimeoutError) and deadline.expired():
                return json_error(408, "the request took longer than [http] request_timeout")
            self._log(logging.ERROR, request, "failed", exc_info=True)
            return json_error(500, "internal error; the service log has the details")

    def _log(
        self, level: int, request: web.Request, what: str, *args: object, exc_info: bool = False
    ) -> None:
        """One rate-limited line: ``<name>: <METHOD> <path> <what>``."""
        where = (self.name, request.method, request.path[:200])
        self.connections.log.log(level, f"%s: %s %s {what}", *where, *args, exc_info=exc_info)

    def refusal(self, request: web.Request, kind: str) -> tuple[int, str, dict[str, str]] | None:
        """(status, message, headers) when ``request`` must be refused, else None."""
        host = _hostname(request.host)
        if host not in self._hosts:
            return 403, f"host {host or '?'!r} is not served here ([http] allowed_hosts)", {}
        origin = request.headers.get("Origin")
        if origin is not None and not _same_origin(origin, request):
            return 403, f"cross-site request refused (Origin {origin[:100]})", {}
        fetch_site = request.headers.get("Sec-Fetch-Site", "")
        navigation = request.method in {"GET", "HEAD"} and (
            request.headers.get("Sec-Fetch-Mode") == "navigate"
        )
        if fetch_site == "cross-site" and not navigation:
            return 403, "cross-site request refused (Sec-Fetch-Site)", {}
        if kind == "changes_state" and not self.token:
            setting = self.token_setting or "a token"
            return 403, f"{self.name}: changing state needs a token; set {setting}", {}
        if kind != "public" and self.token and not self._token_ok(request):
            challenge = {"WWW-Authenticate": 'Bearer realm="gamsi"'}
            return 401, f"{self.name}: a valid bearer token is required", challenge
        if kind == "changes_state" and request.content_type != "application/json":
            return 415, "expected Content-Type: application/json", {}
        return None

    def _token_ok(self, request: web.Request) -> bool:
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer":
            given = request.cookies.get(TOKEN_COOKIE, "")
        return hmac.compare_digest(given.strip().encode(), self.token.encode())


def _hostname(host: str | None) -> str:
    try:
        return (urlsplit(f"//{host or ''}").hostname or "").lower()
    except ValueError:
        return ""


def _same_origin(origin: str, request: web.Request) -> bool:
    try:
        parts = urlsplit(origin)
        port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
    except ValueError:
        return False
    here = urlsplit(f"//{request.host}")
    here_port = here.port or {"http": 80, "https": 443}.get(request.scheme)
    return (parts.scheme, (parts.hostname or "").lower(), port) == (
        request.scheme,
        (here.hostname or "").lower(),
        here_port,
    )


def guarded_app(guard: Guard, client_max_size: int = MAX_BODY) -> web.Application:
    """An aiohttp application whose every request passes ``guard`` first."""

    @web.middleware
    async def guarded(request: web.Request, handler: Handler) -> web.StreamResponse:
        return await guard.middleware(request, handler)

    return web.Application(middlewares=[guarded], client_max_size=client_max_size)


@dataclass
class Served:
    """A running endpoint; :meth:`cleanup` stops listening and closes its connections."""

    runner: web.AppRunner
    server: asyncio.AbstractServer
    port: int

    async def cleanup(self) -> None:
        self.server.close()
        await self.runner.cleanup()


async def serve(app: web.Application, guard: Guard, host: str, port: int) -> Served:
    """Serve ``app`` (made by :func:`guarded_app`) on ``host:port`` behind ``guard``'s
    connection bounds; port 0 picks a free one (``Served.port`` says which).

    Raises OSError when the address cannot be bound (the runner is cleaned up first).
    """
    rate_limit("aiohttp", period=60.0)  # aiohttp's own error lines: one per kind per minute
    ensure_fd_limit(guard.limits.max_connections)  # the cap must bind before the fd limit
    runner = web.AppRunner(
        app, access_log=None, handle_signals=False, keepalive_timeout=guard.limits.idle_timeout
    )
    await runner.setup()
    inner = runner.server
    assert inner is not None
    loop = asyncio.get_running_loop()
    try:
        server = await loop.create_server(
            lambda: GuardedConnection(guard.connections, inner), host, port
        )
    except OSError:
        await runner.cleanup()
        raise
    bound = server.sockets[0].getsockname()[1] if server.sockets else port
    return Served(runner, server, bound)
