"""Opening the history store: one factory for the embedded engine and a ClickHouse server.

``settings.history_dsn()`` is ``chdb:///abs/path`` (embedded, the default) or
``http://user:pass@host:8123/db``; clickhouse-connect picks the backend from the scheme,
so nothing else in Gamsi knows which one it talks to.

chDB lets one process own a data path, and a process open one path only. Within that
process several clients share the engine, which is what the history service does: a
writer client and a read-only client for the query endpoint.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import clickhouse_connect
from clickhouse_connect.driver.client import Client

from gamsi.history.schema import create_schema
from gamsi.masking import mask
from gamsi.settings import Settings

READ_ONLY = {"readonly": 2, "max_execution_time": 60}
"""readonly=2 refuses every write and DDL but lets the client set its own format settings
(readonly=1 would make clickhouse-connect's per-query settings fail on a server)."""


class StoreError(RuntimeError):
    """The store could not be opened; the message says which DSN (password masked) and why."""


def masked(dsn: str) -> str:
    """The DSN with any password replaced, for messages and logs (:func:`gamsi.masking.mask`)."""
    return mask(dsn)


def open_client(settings: Settings, *, read_only: bool = False) -> Client:
    dsn = settings.history_dsn()
    try:
        return clickhouse_connect.get_client(dsn=dsn, settings=READ_ONLY if read_only else None)
    except Exception as exc:
        hint = ""
        if dsn.startswith("chdb:"):
            hint = (
                " (the embedded store belongs to one process: is `gamsi history run` "
                "running? then query through it, or stop it)"
            )
        text = (str(exc).splitlines() or [""])[0].replace(dsn, masked(dsn))
        password = urlsplit(dsn).password
        if password:
            text = text.replace(password, "***")
        raise StoreError(
            f"cannot open the history store {masked(dsn)}: {type(exc).__name__}: {text}{hint}"
        ) from None


def open_store(settings: Settings) -> Client:
    """A writer client with the schema created (idempotent)."""
    client = open_client(settings)
    create_schema(client, settings.history.raw_ttl_days, settings.history.rollup_ttl_days)
    return client


@dataclass
class QueryResult:
    columns: list[str]
    rows: list[list[Any]]


class Reader:
    """Read-only queries, serialised: a chDB client handle is not for concurrent use."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self._lock = threading.Lock()

    def __call__(self, sql: str) -> QueryResult:
        with self._lock:
            result = self.client.query(sql)
            return QueryResult(list(result.column_names), [list(r) for r in result.result_rows])

    def close(self) -> None:
        self.client.close()
