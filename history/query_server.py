"""The history service's read-only query endpoint on 127.0.0.1.

chDB lets one process own the store; this endpoint is how every other process (``gamsi
history query``/``report``, the dashboard) reads it while the service runs.

* ``GET /health`` → ``{"status": "ok", "store": "<dsn, password masked>"}``
* ``POST /query`` with the SQL as the request body → ``{"columns": [...], "rows": [[...]]}``;
  ``400 {"error": ...}`` for anything but one SELECT over Gamsi's tables (the allow-list of
  :mod:`gamsi.history.readonly`) or when the engine rejects it; ``503`` when the query
  pool is full or the service stops, ``504`` past the time bound.

It listens on loopback only and runs what the allow-list rendered on a locked client
(:func:`gamsi.history.store.read_only_settings`) in a bounded pool of its own
(:mod:`gamsi.history.query_pool`), cancelled on shutdown. Its HTTP layer is :mod:`gamsi.http_guard`:
with ``[history] query_token`` (or ``query_token_file``) set every request but
``/health`` needs ``Authorization: Bearer <token>``; cross-site requests and other
``Host`` names are refused; connections and request time are bounded by ``[http]``.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import orjson
from aiohttp import web

from gamsi.history.ch_http import Interface, add_routes
from gamsi.history.query_pool import Busy, QueryPool
from gamsi.history.readonly import NotReadOnly, check_read_only
from gamsi.history.store import Reader, masked
from gamsi.http_config import endpoint_token
from gamsi.http_guard import Guard, Served, guarded_app, public, serve
from gamsi.settings import Settings

if TYPE_CHECKING:
    from gamsi.metrics import SelfReport

log = logging.getLogger(__name__)

HOST = "127.0.0.1"
MAX_BODY = 1 << 20


def dumps(body: Any) -> bytes:
    """JSON with datetimes as ISO 8601 (naive ones are UTC, as the store keeps them)."""
    return orjson.dumps(body, default=_fallback, option=orjson.OPT_NAIVE_UTC)


def _fallback(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, (set, tuple, frozenset)):
        return list(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)  # Decimal, UUID, IP addresses: their text form


def _json(body: Any, status: int = 200) -> web.Response:
    return web.Response(body=dumps(body), status=status, content_type="application/json")


def make_guard(settings: Settings) -> Guard:
    """The endpoint's guard: its token from ``[history] query_token`` / ``query_token_file``."""
    h = settings.history
    token = endpoint_token(h.query_token, h.query_token_file, "[history] query_token")
    return Guard("history query endpoint", token, "[history] query_token", settings.http)


def build_app(
    pool: QueryPool, store: str, guard: Guard, report: SelfReport | None = None
) -> web.Application:
    """The endpoint's routes; ``pool.close`` runs when the app shuts down (cancels queries).
    With ``report``, ``/health`` is the service's (gamsi.health) and ``/metrics`` is served."""
    database = pool.reader.client.database or "default"

    @public
    async def health(request: web.Request) -> web.Response:
        if report is None:
            return _json({"status": "ok", "store": store})
        status, body = report.health.report()
        return _json({**body, "store": store}, status)

    async def query(request: web.Request) -> web.Response:
        sql = await request.text()
        try:
            statement = check_read_only(sql, database)
        except NotReadOnly as exc:
            return _json({"error": str(exc)}, 400)
        try:
            result = await pool.run(statement)
        except Busy as exc:
            return _json({"error": str(exc)}, 503)
        except TimeoutError as exc:
            return _json({"error": str(exc)}, 504)
        except Exception as exc:  # the engine's message tells the user what is wrong
            return _json({"error": f"{type(exc).__name__}: {exc}"}, 400)
        return _json({"columns": result.columns, "rows": result.rows})

    app = guarded_app(guard, client_max_size=MAX_BODY)
    app.router.add_get("/health", health)
    app.router.add_post("/query", query)
    add_routes(app, Interface(pool, database, guard.token))  # ClickHouse's HTTP interface
    if report is not None:
        report.add_routes(app, health=False)

    async def cancel_queries(app: web.Application) -> None:
        await pool.close()

    app.on_shutdown.append(cancel_queries)
    return app


async def start_query_server(
    reader: Reader,
    settings: Settings,
    kill: Callable[[str], object] | None = None,
    report: SelfReport | None = None,
) -> Served:
    """Serve on 127.0.0.1:[history] query_port; the caller calls ``cleanup()``, which
    cancels running queries (``kill`` runs a KILL QUERY on a client allowed to).

    Raises OSError naming the setting when the port cannot be bound, and ConfigError
    when ``query_token_file`` cannot be read.
    """
    guard = make_guard(settings)
    app = build_app(QueryPool(reader, kill), masked(settings.history_dsn()), guard, report)
    try:
        served = await serve(app, guard, HOST, settings.history.query_port)
    except OSError as exc:
        raise OSError(
            f"[history] query_port: cannot listen on {HOST}:{settings.history.query_port} "
            f"({exc.strerror}); another history service running? choose another port"
        ) from None
    log.info("history: read-only query endpoint on http://%s:%d", HOST, settings.history.query_port)
    return served
