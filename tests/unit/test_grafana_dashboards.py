"""Gamsi's Grafana dashboards (deploy/grafana/) are valid and their SQL runs on the real
schema: every panel's, variable's and annotation's query, with the ClickHouse data
source's macros expanded as the plugin does, passes the history endpoint's allow-list and
runs on chDB (the embedded engine, in this process) with the columns the panel expects.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import yaml

from gamsi.history.readonly import check_read_only
from gamsi.history.schema import DELIVERIES, EVENTS, HOSTS, REMEDIATIONS, SAMPLES
from gamsi.history.store import Reader, open_client, open_store
from gamsi.settings import Settings, load_settings

ROOT = Path(__file__).resolve().parents[2]
GRAFANA = ROOT / "deploy" / "grafana"
BOARDS = {p.stem: json.loads(p.read_text()) for p in sorted(GRAFANA.glob("dashboards/*.json"))}
SOURCES = yaml.safe_load((GRAFANA / "provisioning/datasources/gamsi.yaml").read_text())
UID = "gamsi-clickhouse"
HOST = "grafana-test-host"
NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)
FROM, TO = NOW - dt.timedelta(hours=6), NOW + dt.timedelta(minutes=1)
VARIABLES = {"host": HOST, "item": "cpu.util"}

EXPECTED: dict[tuple[str, str, str], tuple[str, ...]] = {
    ("gamsi-fleet", "Events by severity", "A"): ("time", "level", "events"),
    ("gamsi-fleet", "Open problems by severity", "A"): ("level", "problems"),
    ("gamsi-fleet", "Top hosts by CPU (avg %)", "A"): ("host", "cpu_pct"),
    ("gamsi-fleet", "Top hosts by memory (avg %)", "A"): ("host", "memory_pct"),
    ("gamsi-fleet", "Top hosts by disk (fullest mount, %)", "A"): ("host", "disk_pct"),
    ("gamsi-fleet", "CPU by host (avg %)", "A"): ("time", "host", "cpu_pct"),
    ("gamsi-host", "${item}", "A"): ("time", "series", "value"),
    ("gamsi-host", "${item}", "B"): ("time", "series", "threshold"),
    ("gamsi-host", "Events", "A"): (
        "time", "item", "instance", "watch", "level", "transition", "value", "threshold",
        "message",
    ),
    ("gamsi-host", "annotation Gamsi events", "Anno"): ("time", "text", "tags"),
    ("gamsi-host", "variable host", "A"): ("host",),
    ("gamsi-host", "variable item", "A"): ("item",),
    ("gamsi-activity", "Deliveries by result", "A"): ("time", "result", "deliveries"),
    ("gamsi-activity", "Recovery scripts by status", "A"): ("time", "status", "runs"),
    ("gamsi-activity", "Deliveries per channel and route", "A"): (
        "channel", "route", "sent", "not_sent", "max_attempts",
    ),
    ("gamsi-activity", "Recovery scripts per host and script", "A"): (
        "host", "script", "runs", "ok", "avg_duration_s",
    ),
    ("gamsi-activity", "Latest deliveries", "A"): (
        "time", "host", "item", "instance", "transition", "channel", "recipient", "result",
        "attempts", "error",
    ),
    ("gamsi-activity", "Latest recovery scripts", "A"): (
        "time", "host", "script", "status", "reason", "exit_code", "duration_s", "watch",
        "item", "by",
    ),
}  # fmt: skip
"""(dashboard uid, panel title, refId) → the columns its query must return."""


def expand(sql: str, interval_s: int = 60) -> str:
    """The query as grafana-clickhouse-datasource (v4) sends it: ``$__timeFilter(c)`` →
    ``c >= toDateTime(from) AND c <= toDateTime(to)``, ``$__timeInterval(c)`` →
    ``toStartOfInterval(toDateTime(c), INTERVAL n second)``, ``${var}`` → its value."""
    start, end = int(FROM.timestamp()), int(TO.timestamp())
    sql = re.sub(
        r"\$__timeFilter\((\w+)\)",
        rf"\1 >= toDateTime({start}) AND \1 <= toDateTime({end})",
        sql,
    )
    sql = re.sub(
        r"\$__timeInterval\((\w+)\)",
        rf"toStartOfInterval(toDateTime(\1), INTERVAL {interval_s} second)",
        sql,
    )
    sql = re.sub(r"\$\{(\w+)\}", lambda m: VARIABLES[m.group(1)], sql)
    assert "$" not in sql, f"a macro the helper does not know: {sql}"
    return sql


def queries() -> Iterator[tuple[str, str, str, str]]:
    """(dashboard uid, panel title, refId, SQL) of every query in every dashboard."""
    for board in BOARDS.values():
        for panel in board["panels"]:
            for t in panel["targets"]:
                yield board["uid"], panel["title"], t["refId"], t["rawSql"]
        for v in board["templating"]["list"]:
            yield board["uid"], f"variable {v['name']}", "A", v["query"]
        for a in board["annotations"]["list"]:
            yield (
                board["uid"],
                f"annotation {a['name']}",
                a["target"]["refId"],
                a["target"]["rawSql"],
            )


ALL = list(queries())


@pytest.fixture(scope="module")
def reader(chdb_dir: Path) -> Iterator[Reader]:
    """The endpoint's locked client on chDB, over the real schema with a little history."""
    base = load_settings(environ={})
    settings: Settings = replace(base, history=replace(base.history, dsn=f"chdb://{chdb_dir}"))
    writer = open_store(settings)
    ago = [NOW - dt.timedelta(minutes=m) for m in range(0, 30, 5)]
    samples = [
        [ts, HOST, item, inst, value, []]
        for ts in ago
        for item, inst, value in (
            ("cpu.util", "", 91.5),
            ("memory.used_pct", "", 40.0),
            ("disk.used_pct", "/", 77.0),
        )
    ]
    writer.insert(SAMPLES.name, samples, column_names=list(SAMPLES.columns))
    writer.insert(HOSTS.name, [[HOST, "linux", [], 10.0, NOW]], column_names=list(HOSTS.columns))
    event = {"event_id": "g-1", "host": HOST, "item": "cpu.util", "instance": "",
             "watch": "cpu-high", "severity": 4, "previous": 0, "transition": "raise",
             "value": 91.5, "threshold": 90.0, "ts": NOW, "since": NOW, "emitted_at": NOW,
             "message": "cpu 91.5 > 90", "tags": []}  # fmt: skip
    writer.insert(EVENTS.name, [list(event.values())], column_names=list(event))
    delivery = {"ts": NOW, "event_id": "g-1", "route": "ops", "channel": "slack",
                "recipient": "#ops", "host": HOST, "item": "cpu.util", "instance": "",
                "severity": 4, "transition": "raise", "result": "sent", "attempts": 1,
                "error": ""}  # fmt: skip
    writer.insert(DELIVERIES.name, [list(delivery.values())], column_names=list(delivery))
    run = {"ts": NOW, "status": "ok", "host": HOST, "script": "restart-nginx",
           "duration_s": 1.5, "watch": "cpu-high", "item": "cpu.util",
           "by": "remediator"}  # fmt: skip
    writer.insert(REMEDIATIONS.name, [list(run.values())], column_names=list(run))
    locked = Reader(open_client(settings, read_only=True))
    yield locked
    locked.close()
    writer.close()


def test_every_query_has_its_expected_columns_listed() -> None:
    assert {(u, p, r) for u, p, r, _ in ALL} == set(EXPECTED)


@pytest.mark.parametrize(
    ("uid", "title", "ref", "sql"), ALL, ids=[f"{a}:{b}:{c}" for a, b, c, _ in ALL]
)
def test_each_query_passes_the_allow_list_and_runs_on_chdb(
    reader: Reader, uid: str, title: str, ref: str, sql: str
) -> None:
    statement = check_read_only(expand(sql))  # what the embedded store's endpoint runs
    result = reader(statement)
    assert tuple(result.columns) == EXPECTED[(uid, title, ref)]
    assert result.rows, f"{uid} / {title}: no rows over the seeded history"


def test_the_top_cpu_panel_reads_the_seeded_value(reader: Reader) -> None:
    sql = next(s for u, t, _, s in ALL if t == "Top hosts by CPU (avg %)")
    assert [HOST, 91.5] in reader(check_read_only(expand(sql))).rows


def test_the_helper_expands_every_macro_it_is_given() -> None:
    out = expand("SELECT $__timeInterval(ts) AS t FROM samples WHERE $__timeFilter(ts)")
    assert "toStartOfInterval(toDateTime(ts), INTERVAL 60 second)" in out
    assert f"ts >= toDateTime({int(FROM.timestamp())})" in out
    with pytest.raises(AssertionError, match="macro"):
        expand("SELECT $__unknownMacro(ts)")


def test_dashboards_are_what_build_py_writes() -> None:
    """The JSON files and their generator agree (edit build.py, then run it)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("grafana_build", GRAFANA / "build.py")
    assert spec
    assert spec.loader
    build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)
    for name, make in build.BOARDS.items():
        assert json.loads((GRAFANA / "dashboards" / name).read_text()) == make()


def _datasources(board: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for panel in board["panels"]:
        yield panel["datasource"]
        yield from (t["datasource"] for t in panel["targets"])
    yield from (v["datasource"] for v in board["templating"]["list"])
    yield from (a["datasource"] for a in board["annotations"]["list"])
    yield from (a["target"]["datasource"] for a in board["annotations"]["list"])


@pytest.mark.parametrize("name", BOARDS)
def test_dashboard_json_is_well_formed(name: str) -> None:
    board = BOARDS[name]
    assert board["uid"] == name
    assert len(name) <= 40
    assert board["title"].startswith("Gamsi")
    assert isinstance(board["schemaVersion"], int)
    panels = board["panels"]
    assert panels
    assert len({p["id"] for p in panels}) == len(panels)
    for panel in panels:
        assert panel["type"] in {"timeseries", "table", "barchart", "bargauge", "stat"}
        grid = panel["gridPos"]
        assert all(isinstance(grid[k], int) for k in "xywh")
        assert grid["x"] >= 0
        assert grid["x"] + grid["w"] <= 24
        refs = [t["refId"] for t in panel["targets"]]
        assert refs
        assert len(set(refs)) == len(refs)
        for t in panel["targets"]:
            assert t["editorType"] == "sql"
            assert t["format"] in (0, 1)
            assert t["rawSql"].strip()
        if "repeat" in panel:
            assert panel["repeat"] in {v["name"] for v in board["templating"]["list"]}
    for source in _datasources(board):
        assert source == {"type": "grafana-clickhouse-datasource", "uid": UID}
    used = set(re.findall(r"\$\{(\w+)\}", json.dumps(board)))
    assert used <= {v["name"] for v in board["templating"]["list"]}


def test_the_provisioned_data_source_is_the_one_the_dashboards_name() -> None:
    (source,) = SOURCES["datasources"]
    assert source["uid"] == UID
    assert source["type"] == "grafana-clickhouse-datasource"
    assert source["jsonData"]["protocol"] == "http"
    assert (source["jsonData"]["host"], source["jsonData"]["port"]) == ("clickhouse", 8123)
    providers = yaml.safe_load((GRAFANA / "provisioning/dashboards/gamsi.yaml").read_text())
    assert providers["providers"][0]["options"]["path"] == "/etc/grafana/dashboards/gamsi"
