"""The ClickHouse cluster DDL (``[history] cluster``), checked statement by statement.

No ClickHouse server or Keeper runs here, so every generated statement is parsed by
ClickHouse's own parser (chDB's ``formatQuerySingleLine``, in a subprocess: a process
owns one chDB store) and its parts are compared with the single-node statement and with
the forms ClickHouse documents: ``ReplicatedMergeTree('/clickhouse/tables/{shard}/...',
'{replica}'[, ver])`` (clickhouse.com/docs/engines/table-engines/mergetree-family/
replication) and ``Distributed(cluster, database, table, sharding_key)``
(clickhouse.com/docs/engines/table-engines/special/distributed).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from gamsi.config_fields import ConfigError
from gamsi.history.cluster_ddl import (
    Cluster,
    cluster_ddl,
    create_cluster_schema,
    missing_columns,
    replicated,
)
from gamsi.history.config import HistorySettings
from gamsi.history.schema import REMEDIATION_COLUMNS, ddl, rollup_view, tables
from gamsi.settings import load_settings

GOLDEN = Path(__file__).parent / "fixtures" / "single_node_ddl.json"
CLUSTER = Cluster("gamsi_cluster", "gamsi")
PARSE = r"""
import json, sys, chdb
out = []
for q in json.load(sys.stdin):
    q = q.replace("\\", "\\\\").replace("\n", "\\n").replace("\t", "\\t")  # escaped form
    try:
        r = chdb.query("SELECT formatQuerySingleLine({q:String})", "TSVRaw", params={"q": q})
        out.append(str(r).strip())
    except Exception as exc:
        out.append("ERROR " + str(exc).splitlines()[0])
print(json.dumps(out))
"""
CREATE = re.compile(
    r"CREATE TABLE IF NOT EXISTS (?P<name>\S+)(?: ON CLUSTER (?P<cluster>\S+))? "
    r"\((?P<columns>.*)\) ENGINE = (?P<engine>\w+(?:\(.*?\))?) (?P<keys>ORDER BY .*)"
)


def parsed(statements: list[str]) -> list[str]:
    """Each statement as ClickHouse's parser formats it on one line (or 'ERROR ...')."""
    done = subprocess.run(
        [sys.executable, "-c", PARSE],
        input=json.dumps(statements),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return list(json.loads(done.stdout.strip().splitlines()[-1]))


@pytest.fixture(scope="module")
def formatted() -> dict[str, str]:
    """Single-node and cluster statements by role, as ClickHouse parses them."""
    single = ddl(30, 400)
    cluster = cluster_ddl(CLUSTER, 30, 400)
    out = parsed(single + cluster)
    return {"single": out[: len(single)], "cluster": out[len(single) :]}  # type: ignore[dict-item]


def test_single_node_ddl_is_byte_identical_to_before_the_cluster_option() -> None:
    golden = json.loads(GOLDEN.read_text())
    assert ddl(30, 400) == golden["30,400"]
    assert ddl(7, 90) == golden["7,90"]


def test_every_cluster_statement_parses_and_runs_on_the_cluster(formatted: Any) -> None:
    errors = [s for s in formatted["cluster"] + formatted["single"] if s.startswith("ERROR")]
    assert errors == []
    for statement in formatted["cluster"]:
        assert " ON CLUSTER gamsi_cluster" in statement, statement
    assert formatted["cluster"][0] == "CREATE DATABASE IF NOT EXISTS gamsi ON CLUSTER gamsi_cluster"


def test_local_tables_are_replicated_with_the_single_node_columns_and_keys(
    formatted: Any,
) -> None:
    single = {m["name"]: m for m in map(CREATE.fullmatch, formatted["single"]) if m}
    local = {m["name"]: m for m in map(CREATE.fullmatch, formatted["cluster"]) if m}
    assert sorted(single) == sorted(t.name for t in tables(30, 400))
    for name, one in single.items():
        mine = local[f"gamsi.{name}_local"]
        assert mine["cluster"] == "gamsi_cluster"
        assert mine["columns"] == one["columns"], name
        assert mine["keys"] == one["keys"], name  # ORDER BY, TTL (and PARTITION BY: none)
        engine, _, args = one["engine"].partition("(")
        path = f"'/clickhouse/tables/{{shard}}/gamsi/{name}_local', '{{replica}}'"
        extra = f", {args.rstrip(')')}" if args else ""
        assert mine["engine"] == f"Replicated{engine}({path}{extra})", name
    assert local["gamsi.hosts_local"]["engine"].endswith("'{replica}', last_seen)")
    assert "TTL toDateTime(ts) + toIntervalDay(30)" in local["gamsi.samples_local"]["keys"]


def test_distributed_tables_keep_the_query_names_over_the_local_tables(formatted: Any) -> None:
    statements = formatted["cluster"]
    for table in tables(30, 400):
        t = table.name
        want = (
            f"CREATE TABLE IF NOT EXISTS gamsi.{t} ON CLUSTER gamsi_cluster AS gamsi.{t}_local "
            f"ENGINE = Distributed('gamsi_cluster', 'gamsi', '{t}_local', cityHash64(host))"
        )
        assert want in statements, t
        local = next(i for i, s in enumerate(statements) if f"gamsi.{t}_local ON" in s)
        assert local < statements.index(want), "the local table exists before its Distributed"


def test_the_rollup_view_reads_and_writes_local_tables_on_every_node(formatted: Any) -> None:
    statements = formatted["cluster"]
    (view,) = [s for s in statements if s.startswith("CREATE MATERIALIZED VIEW")]
    (one,) = [s for s in formatted["single"] if s.startswith("CREATE MATERIALIZED VIEW")]
    head = "CREATE MATERIALIZED VIEW IF NOT EXISTS gamsi.samples_1m_mv ON CLUSTER gamsi_cluster "
    assert view.startswith(head + "TO gamsi.samples_1m_local AS SELECT")
    assert view.endswith("FROM gamsi.samples_local GROUP BY minute, host, item, instance")
    select = one.partition(" AS SELECT ")[2].replace("FROM samples ", "FROM gamsi.samples_local ")
    assert view.partition(" AS SELECT ")[2] == select, "the same aggregation as on one node"
    index = statements.index(view)
    for local in ("gamsi.samples_local", "gamsi.samples_1m_local"):
        assert any(f"{local} ON CLUSTER" in s for s in statements[:index])


def test_replicated_engine_forms() -> None:
    assert replicated("MergeTree", "/p") == "ReplicatedMergeTree('/p', '{replica}')"
    assert (
        replicated("ReplacingMergeTree(last_seen)", "/p")
        == "ReplicatedReplacingMergeTree('/p', '{replica}', last_seen)"
    )
    with pytest.raises(ValueError, match="not a MergeTree-family engine"):
        replicated("Log", "/p")
    assert rollup_view().startswith("CREATE MATERIALIZED VIEW IF NOT EXISTS samples_1m_mv TO ")


@pytest.mark.parametrize(
    "name", ["my-cluster", "c' SETTINGS x=1 --", "1abc", "a b", "", "c`", "кластер"]
)
def test_a_cluster_name_that_is_no_identifier_is_refused_naming_the_setting(name: str) -> None:
    with pytest.raises(ConfigError) as error:
        HistorySettings(dsn="http://u:p@ch:8123/gamsi", cluster=name) if name else Cluster(
            name, "gamsi"
        )
    message = str(error.value)
    assert message.startswith("[history] cluster: expected a ClickHouse identifier")
    assert "\n" not in message


def test_cluster_settings_are_checked_with_the_dsn() -> None:
    ok = HistorySettings(dsn="http://u:p@ch:8123/gamsi", cluster="gamsi_cluster")
    assert ok.cluster == "gamsi_cluster"
    assert HistorySettings(dsn="http://ch:8123", cluster="c").cluster == "c"  # default db
    with pytest.raises(ConfigError, match=r"^\[history\] cluster: needs a ClickHouse server"):
        HistorySettings(cluster="gamsi_cluster")
    with pytest.raises(ConfigError, match=r"^\[history\] cluster: needs a ClickHouse server"):
        HistorySettings(dsn="chdb:///var/lib/gamsi/chdb", cluster="gamsi_cluster")
    with pytest.raises(ConfigError, match=r"^\[history\] dsn: expected a ClickHouse identifier"):
        HistorySettings(dsn="http://ch:8123/my-db", cluster="gamsi_cluster")
    with pytest.raises(ConfigError, match=r"^\[history\] dsn: .*database"):
        Cluster("gamsi_cluster", "db;DROP")


def test_the_cluster_comes_from_the_environment_like_any_setting() -> None:
    env = {"GAMSI_HISTORY_DSN": "http://ch:8123/gamsi", "GAMSI_HISTORY_CLUSTER": "prod"}
    assert load_settings(environ=env).history.cluster == "prod"
    with pytest.raises(ConfigError, match=r"\[history\] cluster"):
        load_settings(environ={**env, "GAMSI_HISTORY_CLUSTER": "prod'--"})


class Recorder:
    """A client that records statements and answers the schema's three questions."""

    def __init__(
        self,
        columns: dict[str, set[str]],
        engines: dict[str, str],
        plain: list[tuple[str, str]] | None = None,
    ) -> None:
        self.commands: list[str] = []
        self.columns = columns
        self.engines = engines
        self.plain = plain or []

    def command(self, cmd: str) -> None:
        self.commands.append(cmd)

    def query(self, query: str) -> Any:
        rows: list[tuple[str, str]] | list[tuple[str]]
        if "currentDatabase()" in query and "system" not in query:
            rows = [("gamsi",)]
        elif "engine != 'Distributed'" in query:
            assert "database = 'gamsi'" in query
            assert "'samples', 'samples_1m', 'events', 'deliveries', 'hosts'" in query
            rows = self.plain
        elif "system.columns" in query:
            assert "database = 'gamsi'" in query
            rows = [(t, c) for t, cs in self.columns.items() for c in sorted(cs)]
        else:
            assert "database = 'gamsi'" in query
            assert "samples_local" in query
            rows = list(self.engines.items())
        return type("Result", (), {"result_rows": rows})()


def test_create_cluster_schema_adds_only_missing_columns_and_stale_ttls() -> None:
    every = {name for name, _ in REMEDIATION_COLUMNS}
    client = Recorder(
        {"remediations_local": every - {"by"}, "remediations": every - {"by", "tags"}},
        {
            "samples_local": "ReplicatedMergeTree(...) TTL toDateTime(ts) + toIntervalDay(30)",
            "samples_1m_local": "ReplicatedAggregatingMergeTree(...) TTL minute + toIntervalDay(9)",
        },
    )
    cluster = create_cluster_schema(client, "gamsi_cluster", 30, 400)
    assert cluster == CLUSTER
    creates = cluster_ddl(CLUSTER, 30, 400)
    assert client.commands[: len(creates)] == creates
    assert client.commands[len(creates) :] == [
        "ALTER TABLE gamsi.remediations_local ON CLUSTER 'gamsi_cluster' "
        "ADD COLUMN IF NOT EXISTS by LowCardinality(String)",
        "ALTER TABLE gamsi.remediations ON CLUSTER 'gamsi_cluster' "
        "ADD COLUMN IF NOT EXISTS by LowCardinality(String)",
        "ALTER TABLE gamsi.remediations ON CLUSTER 'gamsi_cluster' "
        "ADD COLUMN IF NOT EXISTS tags Array(LowCardinality(String))",
        "ALTER TABLE gamsi.samples_1m_local ON CLUSTER 'gamsi_cluster' "
        "MODIFY TTL minute + INTERVAL 400 DAY",
    ]
    assert missing_columns(CLUSTER, {"remediations_local": every, "remediations": every}) == []


def test_docs_show_the_ddl_gamsi_runs() -> None:
    doc = (Path(__file__).resolve().parents[3] / "docs" / "history.md").read_text()
    statements = ";\n\n".join(cluster_ddl(CLUSTER, 30, 400)) + ";"
    assert f"```sql\n{statements}\n```" in doc, "docs/history.md, 'The DDL Gamsi runs'"


def test_with_a_cluster_the_writer_client_inserts_in_the_foreground(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from dataclasses import replace

    from gamsi.history import store

    made: list[dict[str, Any]] = []
    monkeypatch.setattr(store.clickhouse_connect, "get_client", lambda **kw: made.append(kw))
    base = load_settings(environ={"GAMSI_HISTORY_DSN": "http://ch:8123/gamsi"})
    clustered = replace(base, history=replace(base.history, cluster="gamsi_cluster"))
    store.open_client(clustered)
    store.open_client(clustered, read_only=True)
    store.open_client(base)
    writer, reader, single = (m["settings"] for m in made)
    assert writer == {"distributed_foreground_insert": 1}
    assert reader["readonly"] == 2
    assert "distributed_foreground_insert" not in reader
    assert single is None


def test_tables_made_without_a_cluster_are_refused_before_any_ddl() -> None:
    client = Recorder({}, {}, plain=[("events", "ReplacingMergeTree"), ("samples", "MergeTree")])
    with pytest.raises(ConfigError) as error:
        create_cluster_schema(client, "gamsi_cluster", 30, 400)
    assert str(error.value) == (
        "[history] cluster: database gamsi already has tables made without a cluster: "
        "events (ReplacingMergeTree), samples (MergeTree); move them away or use another "
        'database (docs/history.md, "Moving from one server")'
    )
    assert client.commands == []
