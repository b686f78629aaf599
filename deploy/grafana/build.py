"""Write Gamsi's Grafana dashboards (deploy/grafana/dashboards/*.json) from one place.

    python deploy/grafana/build.py       # rewrites the three JSON files

Every panel reads Gamsi's history tables (history/schema.py) through Grafana's ClickHouse
data source (grafana-clickhouse-datasource, v4 query model: ``editorType: sql``,
``rawSql``, ``format`` 0 = time series / 1 = table) with the data source uid
``gamsi-clickhouse`` that deploy/grafana/provisioning/datasources/gamsi.yaml provisions.
The SQL uses only the plugin's macros ``$__timeFilter(col)`` and ``$__timeInterval(col)``
and the dashboard variables ``${host}`` / ``${item}``; it also passes the history
endpoint's allow-list, so the same dashboards read the embedded store through its
ClickHouse interface. tests/unit/test_grafana_dashboards.py runs every query on chDB.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
DATASOURCE = {"type": "grafana-clickhouse-datasource", "uid": "gamsi-clickhouse"}
LEVEL = (
    "multiIf(severity = 0, 'normal', severity = 1, 'harmless', severity = 2, 'caution', "
    "severity = 3, 'danger', severity = 4, 'urgent', 'fatal')"
)
COLOURS = {"normal": "green", "harmless": "blue", "caution": "yellow", "danger": "orange",
           "urgent": "red", "fatal": "purple"}  # fmt: skip
"""The six severities' colours (PRODUCT.md; the status page uses the same)."""


def target(sql: str, table: bool = False, ref: str = "A") -> dict[str, Any]:
    return {
        "refId": ref,
        "datasource": DATASOURCE,
        "editorType": "sql",
        "queryType": "table" if table else "timeseries",
        "format": 1 if table else 0,
        "rawSql": " ".join(sql.split()),
    }


def panel(kind: str, title: str, grid: tuple[int, int, int, int], *targets: dict[str, Any],
          **extra: Any) -> dict[str, Any]:  # fmt: skip
    x, y, w, h = grid
    return {"type": kind, "title": title, "datasource": DATASOURCE, "targets": list(targets),
            "gridPos": {"x": x, "y": y, "w": w, "h": h}, **extra}  # fmt: skip


def level_colours() -> dict[str, Any]:
    return {
        "defaults": {},
        "overrides": [
            {"matcher": {"id": "byName", "options": name},
             "properties": [{"id": "color", "value": {"mode": "fixed", "fixedColor": colour}}]}
            for name, colour in COLOURS.items()
        ],
    }  # fmt: skip


def top(item: str, agg: str, unit: str) -> str:
    return f"""SELECT host, round({agg}, 1) AS {unit} FROM samples_1m
        WHERE item = '{item}' AND $__timeFilter(minute) GROUP BY host
        ORDER BY {unit} DESC LIMIT 10"""


def fleet() -> dict[str, Any]:
    panels = [
        panel("timeseries", "Events by severity", (0, 0, 16, 8), target(f"""
            SELECT $__timeInterval(ts) AS time, {LEVEL} AS level, count() AS events
            FROM events WHERE $__timeFilter(ts) AND severity > 0
            GROUP BY time, level ORDER BY time"""), fieldConfig=level_colours()),
        panel("barchart", "Open problems by severity", (16, 0, 8, 8), target(f"""
            SELECT {LEVEL} AS level, count() AS problems FROM (
              SELECT host, item, instance, watch, argMax(severity, ts) AS severity
              FROM events GROUP BY host, item, instance, watch)
            WHERE severity > 0 GROUP BY level ORDER BY level""", table=True)),
        panel("bargauge", "Top hosts by CPU (avg %)", (0, 8, 8, 9),
              target(top("cpu.util", "avgMerge(avg_value)", "cpu_pct"), table=True)),
        panel("bargauge", "Top hosts by memory (avg %)", (8, 8, 8, 9),
              target(top("memory.used_pct", "avgMerge(avg_value)", "memory_pct"), table=True)),
        panel("bargauge", "Top hosts by disk (fullest mount, %)", (16, 8, 8, 9),
              target(top("disk.used_pct", "max(max_value)", "disk_pct"), table=True)),
        panel("timeseries", "CPU by host (avg %)", (0, 17, 24, 8), target("""
            SELECT $__timeInterval(minute) AS time, host, avgMerge(avg_value) AS cpu_pct
            FROM samples_1m WHERE item = 'cpu.util' AND $__timeFilter(minute)
            GROUP BY time, host ORDER BY time""")),
    ]  # fmt: skip
    return dashboard("gamsi-fleet", "Gamsi · Fleet overview", panels)


def host_page() -> dict[str, Any]:
    history = panel("timeseries", "${item}", (0, 0, 24, 8), target("""
        SELECT $__timeInterval(ts) AS time, if(instance = '', item, concat(item, ' ', instance))
          AS series, avg(value) AS value FROM samples
        WHERE host = '${host}' AND item = '${item}' AND $__timeFilter(ts)
        GROUP BY time, series ORDER BY time"""), target("""
        SELECT ts AS time, concat(watch, ' threshold') AS series, threshold FROM events
        WHERE host = '${host}' AND item = '${item}' AND severity > 0 AND $__timeFilter(ts)
        ORDER BY time""", ref="B"), repeat="item", repeatDirection="h", maxPerRow=2)  # fmt: skip
    events = panel("table", "Events", (0, 8, 24, 8), target(f"""
        SELECT ts AS time, item, instance, watch, {LEVEL} AS level, transition, value,
          threshold, message FROM events WHERE host = '${{host}}' AND $__timeFilter(ts)
        ORDER BY ts DESC LIMIT 500""", table=True))  # fmt: skip
    variables = [
        variable("host", "SELECT host FROM hosts GROUP BY host ORDER BY host"),
        variable("item", "SELECT item FROM samples_1m WHERE host = '${host}' "
                 "GROUP BY item ORDER BY item", multi=True),
    ]  # fmt: skip
    annotation = {
        "name": "Gamsi events", "enable": True, "iconColor": "red", "datasource": DATASOURCE,
        "target": target(f"""SELECT ts AS time, concat(watch, ': ', transition, ' to ',
            {LEVEL}, ' (', item, if(instance = '', '', concat(' ', instance)), ')') AS text,
            [{LEVEL}, item] AS tags FROM events
            WHERE host = '${{host}}' AND $__timeFilter(ts) ORDER BY ts""",
            table=True, ref="Anno"),
    }  # fmt: skip
    return dashboard("gamsi-host", "Gamsi · Host", [history, events], variables, [annotation])


def activity() -> dict[str, Any]:
    panels = [
        panel("timeseries", "Deliveries by result", (0, 0, 12, 8), target("""
            SELECT $__timeInterval(ts) AS time, result, count() AS deliveries FROM deliveries
            WHERE $__timeFilter(ts) GROUP BY time, result ORDER BY time""")),
        panel("timeseries", "Recovery scripts by status", (12, 0, 12, 8), target("""
            SELECT $__timeInterval(ts) AS time, status, count() AS runs FROM remediations
            WHERE $__timeFilter(ts) GROUP BY time, status ORDER BY time""")),
        panel("table", "Deliveries per channel and route", (0, 8, 12, 8), target("""
            SELECT channel, route, countIf(result = 'sent') AS sent,
              countIf(result != 'sent') AS not_sent, max(attempts) AS max_attempts
            FROM deliveries WHERE $__timeFilter(ts) GROUP BY channel, route
            ORDER BY sent + not_sent DESC""", table=True)),
        panel("table", "Recovery scripts per host and script", (12, 8, 12, 8), target("""
            SELECT host, script, count() AS runs, countIf(status = 'ok') AS ok,
              round(avg(duration_s), 2) AS avg_duration_s FROM remediations
            WHERE $__timeFilter(ts) GROUP BY host, script ORDER BY runs DESC""", table=True)),
        panel("table", "Latest deliveries", (0, 16, 24, 8), target("""
            SELECT ts AS time, host, item, instance, transition, channel, recipient, result,
              attempts, error FROM deliveries WHERE $__timeFilter(ts)
            ORDER BY ts DESC LIMIT 200""", table=True)),
        panel("table", "Latest recovery scripts", (0, 24, 24, 8), target("""
            SELECT ts AS time, host, script, status, reason, exit_code, duration_s, watch,
              item, by FROM remediations WHERE $__timeFilter(ts)
            ORDER BY ts DESC LIMIT 200""", table=True)),
    ]  # fmt: skip
    return dashboard("gamsi-activity", "Gamsi · Notifications and recovery", panels)


def variable(name: str, sql: str, multi: bool = False) -> dict[str, Any]:
    return {"type": "query", "name": name, "label": name, "datasource": DATASOURCE,
            "query": sql, "definition": sql, "refresh": 2, "sort": 1, "multi": multi,
            "includeAll": multi}  # fmt: skip


def dashboard(uid: str, title: str, panels: list[dict[str, Any]],
              variables: list[dict[str, Any]] | None = None,
              annotations: list[dict[str, Any]] | None = None) -> dict[str, Any]:  # fmt: skip
    for number, p in enumerate(panels, 1):
        p["id"] = number
    return {
        "uid": uid, "title": title, "tags": ["gamsi"], "timezone": "browser",
        "schemaVersion": 39, "version": 1, "editable": True, "refresh": "30s",
        "time": {"from": "now-6h", "to": "now"}, "panels": panels,
        "templating": {"list": variables or []},
        "annotations": {"list": annotations or []},
    }  # fmt: skip


BOARDS = {"gamsi-fleet.json": fleet, "gamsi-host.json": host_page, "gamsi-activity.json": activity}


def main() -> None:
    for name, build in BOARDS.items():
        text = json.dumps(build(), indent=2, ensure_ascii=False) + "\n"
        (HERE / "dashboards" / name).write_text(text)


if __name__ == "__main__":
    main()
