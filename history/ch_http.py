"""ClickHouse's HTTP interface, read-only, on the history query endpoint.

The part of ClickHouse's HTTP interface (clickhouse.com/docs/interfaces/http) that
read-only clients use, so that ``clickhouse_connect.get_client(host="127.0.0.1",
port=8124)``, Grafana's ClickHouse data source and ``curl '127.0.0.1:8124/?query=SELECT+1'``
read the embedded chDB store as they would read a ClickHouse server:

* ``GET /ping`` (and ``GET /`` with no query) → ``Ok.\\n``;
* ``GET|POST /`` with the SQL in ``query=`` and/or the POST body (concatenated, as
  ClickHouse does); the output format from the query's ``FORMAT`` clause, else the
  ``default_format`` parameter or ``X-ClickHouse-Format`` header, else ``TabSeparated``
  (:data:`FORMATS`); ``database`` (parameter or ``X-ClickHouse-Database``) must be the
  store's own;
* response headers ``X-ClickHouse-Query-Id`` (the client's ``query_id`` or a new one),
  ``X-ClickHouse-Format``, ``X-ClickHouse-Timezone``, ``X-ClickHouse-Server-Display-Name``
  and ``X-ClickHouse-Summary``; errors as ClickHouse sends them: a status, the header
  ``X-ClickHouse-Exception-Code`` and the body ``Code: N. DB::Exception: ... (NAME)``.

The read-only guarantees are the JSON endpoint's: every query passes the same allow-list
(:func:`gamsi.history.readonly.check_read_only`; what runs is the checked statement
rendered back, without its FORMAT), on the same locked client and bounded pool. Settings
cannot be changed: a request parameter that is not one of :data:`TRANSPORT_PARAMS` is
refused as a ClickHouse ``readonly=1`` user is (code 164, READONLY). With ``[history]
query_token`` set, the token is the password: HTTP basic auth (any user name, as
clickhouse-connect's ``password=``), ``X-ClickHouse-Key``, or ``Authorization: Bearer``.

What clickhouse-connect asks on connect (its ``init_sequence``): ``SELECT version(),
timezone()`` (TabSeparated), ``SELECT name, value, readonly FROM system.settings`` (Native;
every setting reads ``readonly = 1``, so it sends none) and a ``client_protocol_version``
probe, accepted and ignored (the answer is the protocol-0 Native format it falls back to).
"""

from __future__ import annotations

import base64
import binascii
import hmac
import re
import socket
import time
import uuid
from dataclasses import dataclass, field

import orjson
import sqlglot
from aiohttp import web

from gamsi.history.query_pool import Busy, QueryPool
from gamsi.history.readonly import NotReadOnly, check_read_only
from gamsi.http_guard import public

FORMATS: dict[str, str] = {
    "TabSeparated": "text/tab-separated-values; charset=UTF-8",
    "TabSeparatedRaw": "text/tab-separated-values; charset=UTF-8",
    "TabSeparatedWithNames": "text/tab-separated-values; charset=UTF-8",
    "TabSeparatedWithNamesAndTypes": "text/tab-separated-values; charset=UTF-8",
    "CSV": "text/csv; charset=UTF-8; header=absent",
    "CSVWithNames": "text/csv; charset=UTF-8; header=present",
    "CSVWithNamesAndTypes": "text/csv; charset=UTF-8; header=present",
    "JSON": "application/json; charset=UTF-8",
    "JSONCompact": "application/json; charset=UTF-8",
    "JSONStrings": "application/json; charset=UTF-8",
    "JSONEachRow": "application/x-ndjson; charset=UTF-8",
    "JSONCompactEachRow": "application/x-ndjson; charset=UTF-8",
    "JSONCompactEachRowWithNamesAndTypes": "application/x-ndjson; charset=UTF-8",
    "Native": "application/octet-stream",
    "RowBinary": "application/octet-stream",
    "RowBinaryWithNames": "application/octet-stream",
    "RowBinaryWithNamesAndTypes": "application/octet-stream",
    "Pretty": "text/plain; charset=UTF-8",
    "PrettyCompact": "text/plain; charset=UTF-8",
    "Values": "text/plain; charset=UTF-8",
    "Vertical": "text/plain; charset=UTF-8",
}
"""Output formats served, with their Content-Type (ClickHouse's names; docs: interfaces/formats)."""
ALIASES = {
    f"TSV{tail}": f"TabSeparated{tail}" for tail in ("", "Raw", "WithNames", "WithNamesAndTypes")
}
TRANSPORT_PARAMS = frozenset(
    {
        "query", "database", "default_format", "query_id", "user", "password", "quota_key",
        "session_id", "session_timeout", "session_check", "wait_end_of_query",
        "send_progress_in_http_headers", "http_headers_progress_interval_ms",
        "enable_http_compression", "client_protocol_version", "buffer_size",
        "max_execution_time",
    }
)  # fmt: skip
"""Request parameters that are not settings (or change nothing we answer): accepted and
ignored. ``max_execution_time`` is here because Grafana's ClickHouse data source sends it
with every query (its docs ask for it to be changeable on a read-only user); whatever it
says, the endpoint's own bound applies (``QUERY_SECONDS``, it can be neither raised nor
lifted). Any other parameter is a setting (or a query parameter) and is refused."""

CODES = {
    "SYNTAX_ERROR": (62, 400),
    "UNKNOWN_FORMAT": (73, 400),
    "UNKNOWN_DATABASE": (81, 404),
    "READONLY": (164, 403),
    "TOO_MANY_SIMULTANEOUS_QUERIES": (202, 503),
    "TIMEOUT_EXCEEDED": (159, 500),
    "AUTHENTICATION_FAILED": (516, 401),
}
"""ClickHouse error name → (code, HTTP status), as ClickHouse's HTTP handler answers them."""
_ENGINE_CODE = re.compile(r"Code: (\d+)\.")
_ENGINE_STATUS = {60: 404, 81: 404, 164: 403, 497: 403, 62: 400, 46: 400, 47: 400, 43: 400}


class ClickHouseError(Exception):
    """A refusal in ClickHouse's terms: ``name`` (a key of :data:`CODES`) and the text."""

    def __init__(self, name: str, text: str) -> None:
        super().__init__(text)
        self.name = name


@dataclass
class Interface:
    """The interface's state: the store's ``database``, the endpoint's ``token`` ('' =
    none) and the engine's version and time zone, asked once on first use."""

    pool: QueryPool
    database: str
    token: str = ""
    display_name: str = field(default_factory=socket.gethostname)
    version: str = ""
    timezone: str = ""

    async def server_info(self) -> tuple[str, str]:
        """(version, timezone) of the engine (``SELECT version(), timezone()``)."""
        if not self.version:
            raw = await self.pool.run(
                "SELECT version(), timezone()", lambda sql: self.pool.reader.raw(sql, "TSV")
            )
            self.version, _, self.timezone = raw.decode().strip().partition("\t")
        return self.version, self.timezone


def add_routes(app: web.Application, interface: Interface) -> None:
    """Serve ``/`` (GET, POST) and ``/ping`` on ``app`` (made by gamsi.http_guard).

    The routes are marked public for the guard (which still refuses other hosts and
    cross-site requests) because ClickHouse clients authenticate their own way; the
    token is checked here (:func:`_authorised`)."""

    @public
    async def ping(request: web.Request) -> web.Response:
        return web.Response(text="Ok.\n", content_type="text/plain")

    @public
    async def root(request: web.Request) -> web.Response:
        return await _answer(request, interface)

    app.router.add_get("/ping", ping)
    app.router.add_get("/", root)
    app.router.add_post("/", root)


async def _answer(request: web.Request, it: Interface) -> web.Response:
    query_id = request.query.get("query_id") or str(uuid.uuid4())
    headers = {
        "X-ClickHouse-Query-Id": query_id,
        "X-ClickHouse-Server-Display-Name": it.display_name,
    }
    started = time.perf_counter_ns()
    try:
        if not _authorised(request, it.token):
            raise ClickHouseError(
                "AUTHENTICATION_FAILED", "default: Authentication failed: the password is "
                "[history] query_token (basic auth, X-ClickHouse-Key or a bearer token)"
            )  # fmt: skip
        sql = await _query_text(request)
        if not sql.strip() and request.method == "GET":
            return web.Response(text="Ok.\n", content_type="text/plain", headers=headers)
        timezone = (await it.server_info())[1]  # also the version errors quote
        statement, fmt = _checked(request, sql, it.database)
        body = await it.pool.run(statement, lambda s: it.pool.reader.raw(s, fmt))
    except ClickHouseError as exc:
        return await _error(it, headers, exc.name, str(exc))
    except NotReadOnly as exc:
        syntax = str(exc).startswith(("not SQL", "empty query", "query too long"))
        return await _error(it, headers, "SYNTAX_ERROR" if syntax else "READONLY", str(exc))
    except Busy as exc:
        return await _error(it, headers, "TOO_MANY_SIMULTANEOUS_QUERIES", str(exc))
    except TimeoutError as exc:
        return await _error(it, headers, "TIMEOUT_EXCEEDED", str(exc))
    except Exception as exc:  # the engine's own refusal, passed on as it wrote it
        return _engine_error(headers, exc)
    elapsed = time.perf_counter_ns() - started
    summary = dict.fromkeys(("read_rows", "read_bytes", "written_rows", "written_bytes"), "0")
    summary.update(result_bytes=str(len(body)), elapsed_ns=str(elapsed))
    headers.update(
        {
            "X-ClickHouse-Format": fmt,
            "X-ClickHouse-Timezone": timezone,
            "X-ClickHouse-Summary": orjson.dumps(summary).decode(),
            "Content-Type": FORMATS[fmt],
        }
    )
    return web.Response(body=body, headers=headers)


def _authorised(request: web.Request, token: str) -> bool:
    """No token configured: anyone on loopback reads. Else the token as the password."""
    if not token:
        return True
    given = request.headers.get("X-ClickHouse-Key") or request.query.get("password", "")
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "basic":
        try:
            given = base64.b64decode(value.strip(), validate=True).decode().partition(":")[2]
        except (binascii.Error, UnicodeDecodeError):
            return False
    elif scheme.lower() == "bearer":
        given = value.strip()
    return hmac.compare_digest(given.encode(), token.encode())


async def _query_text(request: web.Request) -> str:
    """``query=`` then the POST body, whatever its Content-Type (``curl -d`` sends a form
    type): ClickHouse concatenates them. Multipart bodies (external data) are refused."""
    text = request.query.get("query", "")
    if request.method != "POST":
        return text
    if request.content_type.startswith("multipart/"):
        raise ClickHouseError("READONLY", "multipart requests (external data) are not served")
    body = (await request.read()).decode("utf-8", "replace")
    return f"{text}\n{body}" if text and body else text or body


def _checked(request: web.Request, sql: str, database: str) -> tuple[str, str]:
    """(the statement to run, its output format), or :class:`ClickHouseError`/NotReadOnly."""
    for name in request.query:
        if name not in TRANSPORT_PARAMS:
            raise ClickHouseError(
                "READONLY", f"Cannot modify '{name[:60]}' setting in readonly mode"
            )
    wanted_db = request.query.get("database") or request.headers.get("X-ClickHouse-Database")
    if wanted_db and wanted_db != database:
        raise ClickHouseError(
            "UNKNOWN_DATABASE", f"Database {wanted_db[:60]} is not served here (only {database})"
        )
    rendered = check_read_only(sql, database, frozenset(FORMATS) | frozenset(ALIASES))
    root = sqlglot.parse_one(rendered, read="clickhouse")
    given = root.args.get("format")
    default = request.query.get("default_format") or request.headers.get("X-ClickHouse-Format")
    fmt = given.name if given is not None else default or "TabSeparated"
    fmt = ALIASES.get(fmt, fmt)
    if fmt not in FORMATS:
        raise ClickHouseError("UNKNOWN_FORMAT", f"Unknown format {fmt[:60]}; served: TSV, CSV, "
                              "JSON, Native, RowBinary... (docs/history.md)")  # fmt: skip
    root.set("format", None)
    return check_read_only(root.sql(dialect="clickhouse"), database), fmt


async def _error(it: Interface, headers: dict[str, str], name: str, text: str) -> web.Response:
    code, status = CODES[name]
    version = it.version or "unknown"
    body = f"Code: {code}. DB::Exception: {text}. ({name}) (version {version})\n"
    return web.Response(
        text=body,
        status=status,
        content_type="text/plain",
        headers={**headers, "X-ClickHouse-Exception-Code": str(code)},
    )


def _engine_error(headers: dict[str, str], exc: Exception) -> web.Response:
    text = " ".join(str(exc).split())[:2000]
    found = _ENGINE_CODE.search(text)
    code = int(found.group(1)) if found else 1002  # UNKNOWN_EXCEPTION
    body = text[found.start() :] if found else f"Code: 1002. DB::Exception: {text}"
    return web.Response(
        text=body + "\n",
        status=_ENGINE_STATUS.get(code, 500),
        content_type="text/plain",
        headers={**headers, "X-ClickHouse-Exception-Code": str(code)},
    )


__all__ = ["CODES", "FORMATS", "TRANSPORT_PARAMS", "ClickHouseError", "Interface", "add_routes"]
