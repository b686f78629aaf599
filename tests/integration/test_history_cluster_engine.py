"""The cluster DDL (``[history] cluster``) run by the real ClickHouse engine, as far as an
embedded one can: chDB started with a server config of its own that defines the
``{shard}``/``{replica}`` macros, an in-memory Keeper (``testkeeper``) and a one-shard
``remote_servers`` cluster whose replica is this very engine.

chDB has no distributed-DDL worker (``ON CLUSTER`` is refused: "Replicated DDL queries are
disabled") and hangs on inserts into replicated tables, so:

* database ``gamsi``: every statement Gamsi runs on a cluster, ``ON CLUSTER`` removed,
  *created* by the engine — the replicated engines with their Keeper paths and macros, the
  Distributed tables ``AS`` their local tables, the rollup view on the local tables;
* database ``gamsi_plain``: the same statements with the non-replicated engines, then rows
  inserted *through the Distributed tables* (``distributed_foreground_insert=1``, as the
  writer does) and read back through them: the view filled the local rollup, a redelivered
  event counts once with ``FINAL``, and the rows sit in the ``_local`` tables.

The ``ON CLUSTER`` clauses themselves are checked by ClickHouse's parser
(tests/unit/history/test_cluster_ddl.py).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from gamsi.history.cluster_ddl import Cluster, cluster_ddl
from gamsi.history.schema import tables

CONFIG = """<clickhouse>
  <tcp_port>9000</tcp_port>
  <macros><shard>01</shard><replica>r1</replica></macros>
  <zookeeper><implementation>testkeeper</implementation></zookeeper>
  <remote_servers>
    <gamsi_cluster>
      <shard>
        <internal_replication>true</internal_replication>
        <replica><host>localhost</host><port>9000</port></replica>
      </shard>
    </gamsi_cluster>
  </remote_servers>
</clickhouse>
"""
ENGINE = r"""
import json, os, sys, chdb
job = json.load(sys.stdin)
connection = chdb.connect(f"file:{job['path']}?config-file={job['config']}")
cursor = connection.cursor()
out = {"errors": [], "rows": []}
for statement in job["statements"]:
    try:
        cursor.execute(statement)
    except Exception as exc:
        out["errors"].append(statement[:120] + " -> " + str(exc).splitlines()[0])
for query in job["queries"]:
    cursor.execute(query)
    out["rows"].append([list(row) for row in cursor.fetchall()])
print(json.dumps(out, default=str), flush=True)
os._exit(0)  # the in-memory Keeper's teardown aborts at exit
"""
REPLICATED = re.compile(r"Replicated(\w+)\('[^']*', '\{replica\}'(?:, ([^)]*))?\)")


def _engine(path: Path, statements: list[str], queries: list[str]) -> dict[str, Any]:
    (path.parent / "config.xml").write_text(CONFIG)
    job = {"path": str(path), "config": str(path.parent / "config.xml")}
    done = subprocess.run(
        [sys.executable, "-c", ENGINE],
        input=json.dumps({**job, "statements": statements, "queries": queries}),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.stdout.strip(), done.stderr[-2000:]
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def _local(statements: list[str], cluster: Cluster, replicated: bool) -> list[str]:
    """The statements without ``ON CLUSTER`` (and with plain engines unless replicated)."""
    out = [s.replace(f" {cluster.on}", "") for s in statements]
    if not replicated:
        out = [REPLICATED.sub(lambda m: m[1] + (f"({m[2]})" if m[2] else ""), s) for s in out]
    return out


def test_the_cluster_layout_is_created_and_used_by_the_real_engine(tmp_path: Path) -> None:
    replicated, plain = Cluster("gamsi_cluster", "gamsi"), Cluster("gamsi_cluster", "gamsi_plain")
    now = "toDateTime64('2026-11-30 10:00:00', 3, 'UTC')"
    rows = ", ".join(f"({now}, 'h{i % 3}', 'cpu', '', {i}, [])" for i in range(30))
    event = f"('e1', 'h1', 'cpu', '', 'w', 4, 0, 'raise', 97, 90, {now}, {now}, {now}, '', [])"
    fg = "SETTINGS distributed_foreground_insert = 1"
    statements = [
        *_local(cluster_ddl(replicated, 30, 400), replicated, replicated=True),
        *_local(cluster_ddl(plain, 30, 400), plain, replicated=False),
        f"INSERT INTO gamsi_plain.samples (ts, host, item, instance, value, tags) {fg} "
        f"VALUES {rows}",
        f"INSERT INTO gamsi_plain.events {fg} VALUES {event}",
        f"INSERT INTO gamsi_plain.events {fg} VALUES {event}",  # redelivered
    ]
    names = [t.name for t in tables(30, 400)]
    listed = ", ".join(f"'{n}', '{n}_local'" for n in names)
    found = _engine(
        tmp_path / "store",
        statements,
        [
            f"SELECT name, engine FROM system.tables WHERE database = 'gamsi' "
            f"AND name IN ({listed}) ORDER BY name",
            "SELECT table, zookeeper_path, replica_name FROM system.replicas "
            "WHERE database = 'gamsi' ORDER BY table",
            "SELECT engine_full FROM system.tables WHERE database = 'gamsi' AND name = 'hosts'",
            "SELECT count(), uniqExact(host) FROM gamsi_plain.samples",
            "SELECT count() FROM gamsi_plain.samples_local",
            "SELECT host, avgMerge(avg_value), toFloat64(max(max_value)), sum(samples) "
            "FROM gamsi_plain.samples_1m GROUP BY host ORDER BY host",
            "SELECT count() FROM gamsi_plain.samples_1m_local",
            "SELECT count() FROM gamsi_plain.events FINAL",
            "SELECT name, engine FROM system.tables WHERE database = 'gamsi' "
            "AND name = 'samples_1m_mv'",
        ],
    )
    assert found["errors"] == []
    engines, replicas, hosts, samples, local, rollup, local_rollup, events, view = found["rows"]
    assert dict(engines) == {
        **{n: "Distributed" for n in names},
        "samples_local": "ReplicatedMergeTree",
        "samples_1m_local": "ReplicatedAggregatingMergeTree",
        "events_local": "ReplicatedReplacingMergeTree",
        "deliveries_local": "ReplicatedMergeTree",
        "hosts_local": "ReplicatedReplacingMergeTree",
        "remediations_local": "ReplicatedMergeTree",
    }
    assert replicas == [
        [t, f"/clickhouse/tables/01/gamsi/{t}", "r1"] for t in sorted(f"{n}_local" for n in names)
    ]
    assert hosts == [["Distributed('gamsi_cluster', 'gamsi', 'hosts_local', cityHash64(host))"]]
    assert samples == [[30, 3]]
    assert local == [[30]], "the rows are in the local table under the Distributed one"
    assert rollup == [
        ["h0", 13.5, 27.0, 10],  # 0, 3, ... 27
        ["h1", 14.5, 28.0, 10],
        ["h2", 15.5, 29.0, 10],
    ]
    assert local_rollup[0][0] >= 3, "the view wrote the local rollup table"
    assert events == [[1]], "a redelivered event counts once with FINAL"
    assert view == [["samples_1m_mv", "MaterializedView"]]
