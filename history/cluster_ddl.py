"""The history tables on a ClickHouse cluster: ReplicatedMergeTree tables on every node and
Distributed tables over them (``[history] cluster``; docs/history.md, "ClickHouse cluster").

For each table ``T`` of :func:`gamsi.history.schema.tables` Gamsi creates, ``ON CLUSTER``:

* ``<db>.T_local``: the single-node statement's columns, ORDER BY and TTL, with the engine
  made replicated — ``MergeTree`` → ``ReplicatedMergeTree('/clickhouse/tables/{shard}/<db>/
  T_local', '{replica}')``, and so for ``AggregatingMergeTree`` and ``ReplacingMergeTree``
  (whose version column follows the two arguments). ``{shard}`` and ``{replica}`` are each
  server's macros (ClickHouse docs, "Replicated* table engines":
  clickhouse.com/docs/engines/table-engines/mergetree-family/replication);
* ``<db>.T``, the name every query and insert uses: ``AS <db>.T_local ENGINE =
  Distributed('<cluster>', '<db>', 'T_local', cityHash64(host))`` (ClickHouse docs,
  "Distributed table engine": clickhouse.com/docs/engines/table-engines/special/distributed).

The rollup's materialized view is created on every node over the *local* tables
(``samples_local`` → ``samples_1m_local``): an insert lands in the ``samples_local`` of one
replica of the host's shard, the view aggregates it there, and replication copies both.
``samples_1m`` is a Distributed table over ``samples_1m_local``.

Why these choices:

* **Sharding by** ``cityHash64(host)``: a host's samples, rollups, events and inventory
  rows live on one shard, so ReplacingMergeTree collapses a redelivered event (both copies
  are on the same shard: ``FINAL`` deduplicates per shard), and a per-host chart reads one
  shard. The key is deterministic, so a retried insert splits into the same blocks.
* **Writers insert into the Distributed table**, with ``distributed_foreground_insert=1``
  (:func:`gamsi.history.store.open_client`): the insert returns only when every shard has
  the rows (one replica each, ``internal_replication`` true), so the writer commits its Kafka
  offsets only after the rows are on the shards, not in an initiator's local queue.
* **Retries are idempotent** through ReplicatedMergeTree's insert deduplication (a block's
  hash is kept in Keeper for ``replicated_deduplication_window`` blocks): the writer retries
  a failed insert with the same rows, which split into the same per-shard blocks, and a
  shard that already stored its block skips it. A replay after a crash (the records after
  the last committed offset, batched anew) is not a byte-identical block: samples may then
  be stored twice, events collapse by ``(host, event_id)``, as on one node.

The cluster and database names are written into the statements, so both must be unquoted
ClickHouse identifiers (:func:`gamsi.history.config.check_identifier`).
"""

from __future__ import annotations

from dataclasses import dataclass

from gamsi.config_fields import ConfigError
from gamsi.history.config import check_identifier
from gamsi.history.schema import REMEDIATION_COLUMNS, Client, rollup_view, stale_ttls, tables

SHARDING_KEY = "cityHash64(host)"
"""Every Distributed table's sharding key: one host's rows on one shard."""
LOCAL = "_local"
"""Suffix of the replicated table under each Distributed one."""


@dataclass(frozen=True)
class Cluster:
    """A cluster ``name`` (as in the servers' ``remote_servers``) and the ``database`` the
    tables live in. Both are checked identifiers: ConfigError naming the setting if not."""

    name: str
    database: str

    def __post_init__(self) -> None:
        check_identifier(self.name, "[history] cluster", "cluster name")
        check_identifier(self.database, "[history] dsn", "database (with [history] cluster)")

    @property
    def on(self) -> str:
        """The ``ON CLUSTER '<name>'`` clause."""
        return f"ON CLUSTER '{self.name}'"

    def local(self, table: str) -> str:
        """``<db>.<table>_local``, the replicated table."""
        return f"{self.database}.{table}{LOCAL}"

    def zk_path(self, table: str) -> str:
        """The replicated table's path in Keeper, one per shard."""
        return f"/clickhouse/tables/{{shard}}/{self.database}/{table}{LOCAL}"


def replicated(engine: str, path: str) -> str:
    """The replicated form of a MergeTree-family ``engine`` (``Name`` or ``Name(args)``):
    ``ReplicatedName('<path>', '{replica}'[, args])``, as ClickHouse documents it."""
    name, _, args = engine.partition("(")
    if not name.endswith("MergeTree"):
        raise ValueError(f"not a MergeTree-family engine: {engine}")
    extra = f", {args.rstrip(')')}" if args else ""
    return f"Replicated{name}('{path}', '{{replica}}'{extra})"


def distributed(cluster: Cluster, table: str) -> str:
    """The Distributed table named ``table`` over ``<table>_local`` on every shard."""
    return (
        f"CREATE TABLE IF NOT EXISTS {cluster.database}.{table} {cluster.on} "
        f"AS {cluster.local(table)}\n        ENGINE = Distributed('{cluster.name}', "
        f"'{cluster.database}', '{table}{LOCAL}', {SHARDING_KEY})"
    )


def cluster_ddl(cluster: Cluster, raw_ttl_days: int, rollup_ttl_days: int) -> list[str]:
    """Every statement, in dependency order: the database, then per table the replicated
    local table and its Distributed table, the rollup's view after both local tables."""
    statements = [f"CREATE DATABASE IF NOT EXISTS {cluster.database} {cluster.on}"]
    for table in tables(raw_ttl_days, rollup_ttl_days):
        engine = replicated(table.engine, cluster.zk_path(table.name))
        statements.append(table.create(cluster.local(table.name), engine, cluster.on))
        statements.append(distributed(cluster, table.name))
        if table.name == "samples_1m":
            head = f"{cluster.database}.samples_1m_mv {cluster.on} TO {cluster.local(table.name)}"
            statements.append(rollup_view(head, cluster.local("samples")))
    return statements


def missing_columns(cluster: Cluster, present: dict[str, set[str]]) -> list[str]:
    """ALTERs adding the remediations columns a table made by an older Gamsi lacks:
    ``present`` maps ``remediations_local`` and ``remediations`` to their columns. The
    local table first, so that the Distributed table never names a column it lacks."""
    alters = []
    for table in (f"remediations{LOCAL}", "remediations"):
        for name, kind in REMEDIATION_COLUMNS:
            if name not in present.get(table, set()):
                alters.append(
                    f"ALTER TABLE {cluster.database}.{table} {cluster.on} "
                    f"ADD COLUMN IF NOT EXISTS {name} {kind}"
                )
    return alters


def create_cluster_schema(
    client: Client, cluster_name: str, raw_ttl_days: int, rollup_ttl_days: int
) -> Cluster:
    """Create what is missing on every node of ``cluster_name``, in the client's current
    database (the DSN's), add missing remediations columns and bring the TTLs in line.

    Raises ConfigError when the database is no plain identifier, or holds tables made
    without a cluster under the query names (``CREATE ... IF NOT EXISTS`` would keep them,
    and the writers would fill them instead of the shards). The server's errors (a node
    that does not answer within ``distributed_ddl_task_timeout``) propagate, and the
    history service retries (every statement is idempotent)."""
    database = str(client.query("SELECT currentDatabase()").result_rows[0][0])
    cluster = Cluster(cluster_name, database)
    names = ", ".join(f"'{table.name}'" for table in tables(raw_ttl_days, rollup_ttl_days))
    plain = client.query(
        f"SELECT name, engine FROM system.tables WHERE database = '{database}' "
        f"AND name IN ({names}) AND engine != 'Distributed' ORDER BY name"
    ).result_rows
    if plain:
        raise ConfigError(
            f"[history] cluster: database {database} already has tables made without a "
            f"cluster: {', '.join(f'{n} ({e})' for n, e in plain)}; move them away or use "
            'another database (docs/history.md, "Moving from one server")'
        )
    for statement in cluster_ddl(cluster, raw_ttl_days, rollup_ttl_days):
        client.command(statement)
    present: dict[str, set[str]] = {}
    for table, column in client.query(
        f"SELECT table, name FROM system.columns WHERE database = '{database}' "
        f"AND table IN ('remediations{LOCAL}', 'remediations')"
    ).result_rows:
        present.setdefault(table, set()).add(column)
    for alter in missing_columns(cluster, present):
        client.command(alter)
    engines = {
        name.removesuffix(LOCAL): engine
        for name, engine in client.query(
            f"SELECT name, engine_full FROM system.tables WHERE database = '{database}' "
            f"AND name IN ('samples{LOCAL}', 'samples_1m{LOCAL}')"
        ).result_rows
    }
    for table, ttl in stale_ttls(engines, raw_ttl_days, rollup_ttl_days):
        client.command(f"ALTER TABLE {cluster.local(table)} {cluster.on} MODIFY TTL {ttl}")
    return cluster


__all__ = [
    "LOCAL",
    "SHARDING_KEY",
    "Cluster",
    "cluster_ddl",
    "create_cluster_schema",
    "missing_columns",
    "replicated",
]
