"""Reading history from another process: through the service when it runs, else directly.

chDB lets one process own the store, so while ``gamsi history run`` runs, ``gamsi history
query`` and ``report`` must go through its endpoint; when it is stopped they open the
store themselves. With a ClickHouse server DSN both paths work; the endpoint is still
tried first so that the two commands behave the same everywhere.
"""

from __future__ import annotations

import contextlib
import urllib.error
import urllib.request
from collections.abc import Iterator

import orjson

from gamsi.cli import UserError
from gamsi.history.query_server import HOST
from gamsi.history.readonly import NotReadOnly, check_read_only
from gamsi.history.reports import Run
from gamsi.history.store import QueryResult, Reader, open_client, open_store
from gamsi.http_config import endpoint_token
from gamsi.settings import Settings

HEALTH_TIMEOUT = 1.0
QUERY_TIMEOUT = 120.0


class QueryError(UserError):
    """The query was refused or failed; the message is the endpoint's or the engine's."""


def _url(settings: Settings, path: str) -> str:
    return f"http://{HOST}:{settings.history.query_port}{path}"


def _auth(settings: Settings) -> dict[str, str]:
    """The Authorization header for the endpoint's token, if one is configured."""
    h = settings.history
    token = endpoint_token(h.query_token, h.query_token_file, "[history] query_token")
    return {"Authorization": f"Bearer {token}"} if token else {}


def service_answers(settings: Settings) -> bool:
    """Whether the history service runs here: its ``/health`` answers at all.

    A 503 ("Kafka away", "not joined yet") still means the service runs, owns the
    embedded store and serves queries — exactly when an operator needs history most —
    so it counts: opening the store beside it would fail on chDB's lock."""
    if not settings.history.query_port:
        return False
    try:
        with urllib.request.urlopen(_url(settings, "/health"), timeout=HEALTH_TIMEOUT) as resp:
            body = resp.read()
    except urllib.error.HTTPError as exc:  # an answer: 503 while not ready
        body = exc.read()
    except OSError:
        return False
    try:
        answer = orjson.loads(body)
    except ValueError:
        return False
    return isinstance(answer, dict) and "status" in answer


def remote(settings: Settings) -> Run:
    def run(sql: str) -> QueryResult:
        request = urllib.request.Request(
            _url(settings, "/query"),
            data=sql.encode(),
            method="POST",
            headers={"Content-Type": "text/plain; charset=utf-8", **_auth(settings)},
        )
        try:
            with urllib.request.urlopen(request, timeout=QUERY_TIMEOUT) as resp:
                body = orjson.loads(resp.read())
        except urllib.error.HTTPError as exc:
            try:
                message = orjson.loads(exc.read()).get("error", exc.reason)
            except ValueError:
                message = exc.reason
            raise QueryError(str(message)) from None
        return QueryResult(body["columns"], body["rows"])

    return run


@contextlib.contextmanager
def history_reader(settings: Settings) -> Iterator[Run]:
    """A Run for read-only SQL: the service's endpoint if it answers, else the store itself."""
    if service_answers(settings):
        yield remote(settings)
        return
    open_store(settings).close()  # the tables exist before the first report
    reader = Reader(open_client(settings, read_only=True))
    database = reader.client.database or "default"

    def run(sql: str) -> QueryResult:
        try:
            return reader(check_read_only(sql, database))
        except NotReadOnly as exc:
            raise QueryError(str(exc)) from None
        except Exception as exc:  # the engine's message tells the user what is wrong
            raise QueryError(f"{type(exc).__name__}: {exc}") from None

    try:
        yield run
    finally:
        reader.close()
