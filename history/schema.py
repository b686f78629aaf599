"""The history tables, created on start (idempotent) on chDB and on a ClickHouse server alike.

Why these engines:

* ``samples`` is a plain MergeTree sorted by (host, item, instance, ts): every report and
  drill-down filters by host and item first. Raw rows expire after ``raw_ttl_days``.
* ``samples_1m`` keeps a 1-minute avg/min/max per series for much longer, filled by a
  materialized view at insert time, so long-range charts never scan raw rows. avg is an
  ``AggregateFunction`` state (read with ``avgMerge``); min/max/count are
  ``SimpleAggregateFunction`` columns (read with ``min``/``max``/``sum``).
* ``events`` is a ReplacingMergeTree keyed by event_id: the writer is at-least-once, so a
  redelivered event is inserted twice and collapses to one row after a merge. Readers use
  ``FINAL`` (the reports do) so duplicates never show even before the merge.
* ``deliveries`` and ``remediations`` are plain logs of what the notifier and the
  remediator did; nothing ever updates them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol


class Client(Protocol):
    """The part of a clickhouse-connect client the schema needs."""

    def command(self, cmd: str) -> object: ...

    def query(self, query: str) -> Any: ...


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[str, ...]


SAMPLES = Table("samples", ("ts", "host", "item", "instance", "value", "tags"))
EVENTS = Table(
    "events",
    (
        "event_id",
        "host",
        "item",
        "instance",
        "watch",
        "severity",
        "previous",
        "transition",
        "value",
        "threshold",
        "ts",
        "since",
        "emitted_at",
        "message",
        "tags",
    ),
)
HOSTS = Table("hosts", ("host", "os", "tags", "interval", "last_seen"))
DELIVERIES = Table(
    "deliveries",
    (
        "ts",
        "event_id",
        "route",
        "channel",
        "recipient",
        "host",
        "item",
        "instance",
        "severity",
        "transition",
        "result",
        "attempts",
        "error",
    ),
)
REMEDIATION_COLUMNS = (
    ("ts", "DateTime64(3, 'UTC')"),
    ("status", "LowCardinality(String)"),
    ("host", "LowCardinality(String)"),
    ("script", "LowCardinality(String)"),
    ("args", "Array(String)"),
    ("runs_on", "LowCardinality(String)"),
    ("reason", "String"),
    ("exit_code", "Int32"),
    ("duration_s", "Float64"),
    ("timeout_s", "Float64"),
    ("output", "String"),
    ("command_id", "String"),
    ("event_id", "String"),
    ("incident", "String"),
    ("attempt", "UInt32"),
    ("watch", "LowCardinality(String)"),
    ("item", "LowCardinality(String)"),
    ("instance", "LowCardinality(String)"),
    ("severity", "UInt8"),
    ("value", "Float64"),
    ("by", "LowCardinality(String)"),
    ("tags", "Array(LowCardinality(String))"),
)
"""The remediator's audit rows (gamsi.remediator.records.Remediation), one per decision or
result; the table was reserved with fewer columns, which create_schema adds when missing."""
REMEDIATIONS = Table("remediations", tuple(name for name, _ in REMEDIATION_COLUMNS))

LC = "LowCardinality(String)"
TS = "DateTime64(3, 'UTC')"
_NEXT = "\n            "  # a column list's next line, as the statements are laid out


@dataclass(frozen=True)
class TableDDL:
    """One table's CREATE statement in parts, so that the single-node statement and the
    cluster's ReplicatedMergeTree one (:mod:`gamsi.history.cluster_ddl`) share the same
    columns, ORDER BY and TTL text by construction.

    ``columns`` is the text between the parentheses, ``engine`` the single-node engine
    (``MergeTree``, ``ReplacingMergeTree(last_seen)``...) and ``keys`` what follows it
    (``ORDER BY ...`` and ``TTL ...`` lines)."""

    name: str
    columns: str
    engine: str
    keys: str

    def create(self, name: str = "", engine: str = "", on_cluster: str = "") -> str:
        """The CREATE statement: this table's own (single node), or under another
        ``name`` and ``engine`` with an ``on_cluster`` clause (``ON CLUSTER 'c'``)."""
        head = f"{name or self.name}{f' {on_cluster}' if on_cluster else ''}"
        return (
            f"CREATE TABLE IF NOT EXISTS {head} ({_NEXT}{self.columns}\n"
            f"        ) ENGINE = {engine or self.engine}\n        {self.keys}"
        )


def tables(raw_ttl_days: int, rollup_ttl_days: int) -> list[TableDDL]:
    """Every stored table, in creation order (the rollup's source and target first)."""
    return [
        TableDDL(
            "samples",
            f"ts {TS}, host {LC}, item {LC}, instance {LC}, value Float64, tags Array({LC})",
            "MergeTree",
            f"ORDER BY (host, item, instance, ts)\n"
            f"        TTL toDateTime(ts) + INTERVAL {int(raw_ttl_days)} DAY",
        ),
        TableDDL(
            "samples_1m",
            _NEXT.join(
                (
                    f"minute DateTime('UTC'), host {LC}, item {LC}, instance {LC},",
                    "avg_value AggregateFunction(avg, Float64),",
                    "min_value SimpleAggregateFunction(min, Float64),",
                    "max_value SimpleAggregateFunction(max, Float64),",
                    "samples SimpleAggregateFunction(sum, UInt64)",
                )
            ),
            "AggregatingMergeTree",
            f"ORDER BY (host, item, instance, minute)\n"
            f"        TTL minute + INTERVAL {int(rollup_ttl_days)} DAY",
        ),
        TableDDL(
            "events",
            _NEXT.join(
                (
                    f"event_id String, host {LC}, item {LC}, instance {LC}, watch {LC},",
                    f"severity Int8, previous Int8, transition {LC}, value Float64, "
                    "threshold Float64,",
                    f"ts {TS}, since {TS}, emitted_at {TS}, message String, tags Array({LC})",
                )
            ),
            "ReplacingMergeTree",
            "ORDER BY (host, event_id)",
        ),
        TableDDL(
            "deliveries",
            _NEXT.join(
                (
                    f"ts {TS}, event_id String, route {LC}, channel {LC}, recipient String,",
                    f"host {LC}, item {LC}, instance {LC}, severity Int8, transition {LC},",
                    f"result {LC}, attempts UInt32, error String",
                )
            ),
            "MergeTree",
            "ORDER BY (host, ts)",
        ),
        # One row per batch; merges keep the newest per host. What `gamsi policy
        # unregistered` reads to know each server's OS and tags.
        TableDDL(
            "hosts",
            f"host {LC}, os {LC}, tags Array({LC}), interval Float64, last_seen {TS}",
            "ReplacingMergeTree(last_seen)",
            "ORDER BY host",
        ),
        TableDDL(
            "remediations",
            ", ".join(f"{name} {kind}" for name, kind in REMEDIATION_COLUMNS),
            "MergeTree",
            "ORDER BY (host, ts)",
        ),
    ]


def rollup_view(head: str = "samples_1m_mv TO samples_1m", source: str = "samples") -> str:
    """The materialized view filling the 1-minute rollup at insert time: ``head`` names the
    view and its target (and any ON CLUSTER clause), ``source`` the raw table."""
    return f"""CREATE MATERIALIZED VIEW IF NOT EXISTS {head} AS
        SELECT toStartOfMinute(ts) AS minute, host, item, instance,
               avgState(value) AS avg_value, min(value) AS min_value,
               max(value) AS max_value, count() AS samples
        FROM {source} GROUP BY minute, host, item, instance"""


def ddl(raw_ttl_days: int, rollup_ttl_days: int) -> list[str]:
    """Single-node CREATE statements in dependency order (the view after both of its
    tables), then the ALTERs that add remediations columns to a table made before them."""
    creates = [t.create() for t in tables(raw_ttl_days, rollup_ttl_days)]
    return [
        *creates[:2],
        rollup_view(),
        *creates[2:],
        *(
            f"ALTER TABLE remediations ADD COLUMN IF NOT EXISTS {name} {kind}"
            for name, kind in REMEDIATION_COLUMNS
        ),
    ]


TTL_COLUMNS = {"samples": "toDateTime(ts)", "samples_1m": "minute"}
"""The tables with a TTL setting, and the expression their TTL adds days to."""


def stale_ttls(
    engines: dict[str, str], raw_ttl_days: int, rollup_ttl_days: int
) -> list[tuple[str, str]]:
    """(table, TTL expression) for each table whose ``engine_full`` (from system.tables,
    keyed by table name) does not hold the TTL its setting asks for."""
    wanted = {"samples": raw_ttl_days, "samples_1m": rollup_ttl_days}
    return [
        (table, f"{TTL_COLUMNS[table]} + INTERVAL {int(days)} DAY")
        for table, days in wanted.items()
        if f"toIntervalDay({int(days)})" not in engines.get(table, "")
    ]


def create_schema(client: Client, raw_ttl_days: int, rollup_ttl_days: int) -> None:
    """Create what is missing and bring the TTLs in line with the settings (one server or
    chDB; a cluster's is :func:`gamsi.history.cluster_ddl.create_cluster_schema`).

    ``CREATE ... IF NOT EXISTS`` leaves an existing table alone, so a changed TTL setting is
    applied with ``ALTER ... MODIFY TTL``; only when it changed, because the ALTER rewrites
    every part of a large table.
    """
    for statement in ddl(raw_ttl_days, rollup_ttl_days):
        client.command(statement)
    engines = dict(
        client.query(
            "SELECT name, engine_full FROM system.tables WHERE database = currentDatabase() "
            "AND name IN ('samples', 'samples_1m')"
        ).result_rows
    )
    for table, ttl in stale_ttls(engines, raw_ttl_days, rollup_ttl_days):
        client.command(f"ALTER TABLE {table} MODIFY TTL {ttl}")
