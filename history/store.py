"""Opening the history store: one factory for the embedded engine and a ClickHouse server.

``settings.history_dsn()`` is ``chdb:///abs/path`` (embedded, the default) or
``http://user:pass@host:8123/db``; clickhouse-connect picks the backend from the scheme,
so nothing else in Gamsi knows which one it talks to.

chDB lets one process own a data path, and a process open one path only. Within that
process several clients share the engine, which is what the history service does: a
writer client and a read-only client for the query endpoint.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import clickhouse_connect
from clickhouse_connect.driver.client import Client

from gamsi.cli import UserError
from gamsi.history.cluster_ddl import create_cluster_schema
from gamsi.history.schema import create_schema
from gamsi.masking import mask
from gamsi.settings import Settings

QUERY_SECONDS = 30
"""A read-only query runs at most this long (ClickHouse ``max_execution_time``)."""
QUERY_MEMORY = 1 << 30
"""...and uses at most this much memory, in bytes (``max_memory_usage``)."""
QUERY_ROWS = 100_000
"""...and answers at most this many rows (``max_result_rows``; more is an error)."""
CONNECT_TIMEOUT = 5
"""Seconds to connect to a ClickHouse server (clickhouse-connect's default is 10)."""
READ_TIMEOUT = 60
"""Seconds a ClickHouse server may take to answer one request (default 300): a server
that accepts connections and never answers is noticed, logged and retried."""
CLUSTER_WRITES = {"distributed_foreground_insert": 1}
"""The writer's settings with ``[history] cluster``: an insert into a Distributed table
returns once every shard stored its rows, so offsets are committed after that (ClickHouse
docs, session settings: ``distributed_foreground_insert``, alias ``insert_distributed_sync``)."""


def read_only_settings(dsn: str) -> dict[str, Any]:
    """The engine's lock for the query endpoint's client: bounded time, memory and result,
    then ``readonly``. Order matters: once ``readonly=1`` is set nothing can be changed.

    chDB gets ``readonly=1``, which refuses every table function (file, url, s3, remote,
    executable), every write and every setting change, SETTINGS clauses included. A
    server gets ``readonly=2`` because clickhouse-connect sends its own settings with each
    HTTP request, which ``readonly=1`` refuses; the server's user profile must lock it
    (docs/history.md, "A ClickHouse server")."""
    limits: dict[str, Any] = {
        "max_execution_time": QUERY_SECONDS,
        "max_memory_usage": QUERY_MEMORY,
        "max_result_rows": QUERY_ROWS,
        "max_threads": max(1, (os.cpu_count() or 2) // 2),  # the writer keeps a core
    }
    return {**limits, "readonly": 1 if dsn.startswith("chdb:") else 2}


class StoreError(UserError):
    """The store could not be opened; the message says which DSN (password masked) and why."""


def masked(dsn: str) -> str:
    """The DSN with any password replaced, for messages and logs (:func:`gamsi.masking.mask`)."""
    return mask(dsn)


def open_client(settings: Settings, *, read_only: bool = False) -> Client:
    """A client of the history store; ``read_only`` locks it (:func:`read_only_settings`).

    A server DSN gets bounded connect and read timeouts; with ``[history] cluster`` a
    writer client inserts in the foreground (:data:`CLUSTER_WRITES`). Raises
    :class:`StoreError`."""
    dsn = settings.history_dsn()
    timeouts: dict[str, Any] = {}
    if not dsn.startswith("chdb:"):
        read = QUERY_SECONDS + 5 if read_only else READ_TIMEOUT
        timeouts = {"connect_timeout": CONNECT_TIMEOUT, "send_receive_timeout": read}
    fixed = read_only_settings(dsn) if read_only else None
    if settings.history.cluster and not read_only:
        fixed = dict(CLUSTER_WRITES)
    try:
        return clickhouse_connect.get_client(dsn=dsn, settings=fixed, **timeouts)
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
    """A writer client with the schema created (idempotent): on the cluster ``[history]
    cluster`` names, else on the one server or chDB."""
    client = open_client(settings)
    h = settings.history
    try:
        if h.cluster:
            create_cluster_schema(client, h.cluster, h.raw_ttl_days, h.rollup_ttl_days)
        else:
            create_schema(client, h.raw_ttl_days, h.rollup_ttl_days)
    except BaseException:
        client.close()
        raise
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

    def raw(self, sql: str, fmt: str) -> bytes:
        """The engine's own answer to ``sql`` in the ClickHouse output format ``fmt``
        (``Native``, ``JSON``, ``TabSeparated``...), as bytes, on the same locked client."""
        with self._lock:
            return bytes(self.client.raw_query(sql, fmt=fmt))

    def close(self) -> None:
        self.client.close()
