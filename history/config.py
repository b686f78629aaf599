"""The history writer's configuration: the ``[history]`` section of gamsi.toml.

Fields are documented by their ``help`` (docs/configuration.md is generated from it);
:mod:`gamsi.settings` loads and layers them. Checks run in ``__post_init__`` and raise
:class:`~gamsi.config_fields.ConfigError` naming the key.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from gamsi.config_fields import ConfigError, opt

IDENTIFIER = re.compile(r"[A-Za-z_][0-9A-Za-z_]*")
"""A ClickHouse identifier that needs no quoting (clickhouse.com/docs/sql-reference/syntax,
"Identifiers": ``^[a-zA-Z_][0-9a-zA-Z_]*$``). The cluster and database names are written
into DDL, so nothing else is accepted for them."""


def dsn_database(dsn: str) -> str:
    """The database a server DSN names (its path's first segment, as clickhouse-connect
    reads it), or '' when it names none (the user's default database)."""
    return unquote(urlsplit(dsn).path[1:].split("/")[0])


def check_identifier(value: str, where: str, what: str) -> str:
    """``value`` if it is an unquoted ClickHouse identifier, else ConfigError naming
    ``where`` (the setting) and ``what`` it is; the message quotes at most 60 characters."""
    if not IDENTIFIER.fullmatch(value):
        raise ConfigError(
            f"{where}: expected a ClickHouse identifier for the {what} "
            f"(letters, digits, _; not starting with a digit), got {value[:60]!r}"
        )
    return value


@dataclass(frozen=True)
class HistorySettings:
    """The history writer: the ClickHouse store and its read-only query endpoint."""

    dsn: str = opt(
        "",
        "ClickHouse DSN. Empty means the embedded engine: chdb://<data_dir>/chdb. "
        "A server is http://user:pass@host:8123/db.",
    )
    group_id: str = opt("gamsi-history", "Consumer group of the history writer.")
    batch_rows: int = opt(50_000, "Rows buffered before an insert.")
    flush_interval: float = opt(1.0, "Seconds between inserts when the buffer is not full.")
    raw_ttl_days: int = opt(30, "Days raw samples are kept (ClickHouse TTL).")
    rollup_ttl_days: int = opt(
        400, "Days the 1-minute rollup (avg/min/max per host, item, instance) is kept."
    )
    deliveries_topic: str = opt(
        "",
        "Topic of the notifier's delivery records. Empty means [notifier] delivery_topic "
        "when that setting exists, else gamsi.deliveries.",
    )
    query_port: int = opt(
        8124,
        "Port of the history service's read-only query endpoint on 127.0.0.1. chDB lets one "
        "process own the store, so other processes query through it. 0 serves none.",
    )
    query_token: str = opt(
        "",
        "Bearer token of the query endpoint; when set (or query_token_file), every query "
        "needs it (`gamsi history query` sends it). Empty: loopback callers need none.",
        secret=True,
    )
    query_token_file: str = opt("", "File holding the query endpoint's token (first line).")
    cluster: str = opt(
        "",
        "ClickHouse cluster (a name in the servers' remote_servers) to create the tables on: "
        "ReplicatedMergeTree tables <table>_local on every node and Distributed tables over "
        'them under the names the queries use (docs/history.md, "ClickHouse cluster"). '
        "Needs a server dsn. Empty: plain tables on the one server or chDB.",
    )

    def __post_init__(self) -> None:
        for key in ("batch_rows", "raw_ttl_days", "rollup_ttl_days"):
            if getattr(self, key) < 1:
                raise ConfigError(f"[history] {key}: expected at least 1, got {getattr(self, key)}")
        if self.flush_interval <= 0:
            raise ConfigError(
                f"[history] flush_interval: expected seconds > 0, got {self.flush_interval}"
            )
        if not 0 <= self.query_port < 65536:
            raise ConfigError(
                f"[history] query_port: expected 1..65535 (0: no endpoint), got {self.query_port}"
            )
        if self.cluster:
            check_identifier(self.cluster, "[history] cluster", "cluster name")
            if not self.dsn or self.dsn.startswith("chdb:"):
                raise ConfigError(
                    "[history] cluster: needs a ClickHouse server dsn (http://...); "
                    "the embedded chDB store has no cluster"
                )
            database = dsn_database(self.dsn)
            if database:
                check_identifier(database, "[history] dsn", "database (with [history] cluster)")
