"""The history reports: each one a function that builds its SQL and runs it.

A report takes a ``run`` callable (SQL → :class:`QueryResult`), so the same function works
on a store opened in this process and through the history service's query endpoint.
Windows are ``[now - hours, now]``; ``now`` is a parameter so tests pin it.

Severity over time comes from the events alone: each event says what the severity was
*before* it (``previous``) and *after* it (``severity``), so a series' timeline is the
interval before each event at its ``previous`` level, and the time after its last event
at its ``severity``. A series with no event at all was normal throughout and does not
appear. Events are read with ``FINAL`` so redelivered ones count once.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from gamsi.history.store import QueryResult
from gamsi.schemas.records import Severity

Run = Callable[[str], QueryResult]
SERIES = "host, item, instance, watch"


@dataclass
class Report:
    title: str
    columns: list[str]
    rows: list[list[Any]]


@dataclass(frozen=True)
class Window:
    start_ms: int
    end_ms: int

    @classmethod
    def last(cls, hours: float, now: float | None = None) -> Window:
        if hours <= 0:
            raise ValueError(f"hours: expected a positive number, got {hours}")
        end = time.time() if now is None else now
        return cls(round((end - hours * 3600) * 1000), round(end * 1000))

    @property
    def seconds(self) -> float:
        return (self.end_ms - self.start_ms) / 1000

    def sql(self, column: str = "ts") -> str:
        return (
            f"{column} >= fromUnixTimestamp64Milli(toInt64({self.start_ms}), 'UTC') "
            f"AND {column} <= fromUnixTimestamp64Milli(toInt64({self.end_ms}), 'UTC')"
        )


def quote(text: str) -> str:
    """A ClickHouse string literal (user input such as an item name)."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _report(run: Run, title: str, sql: str) -> Report:
    result = run(sql)
    return Report(title, result.columns, result.rows)


def _events_until(end_ms: int) -> str:
    return (
        f"SELECT {SERIES}, toUnixTimestamp64Milli(ts) AS t, severity, previous, transition "
        f"FROM events FINAL WHERE ts <= fromUnixTimestamp64Milli(toInt64({end_ms}), 'UTC')"
    )


def availability(
    run: Run, hours: float = 24, now: float | None = None, down_from: int = Severity.URGENT
) -> Report:
    """Seconds per severity of every watched series, and the share below ``down_from``."""
    w = Window.last(hours, now)
    per_level = ", ".join(
        f"round(sumIf(ms, level = {s.value}) / 1000, 1) AS {s.name.lower()}_s" for s in Severity
    )
    sql = f"""
    SELECT {SERIES}, {per_level},
           round(100 * sumIf(ms, level < {int(down_from)}) / {w.end_ms - w.start_ms}, 2)
               AS availability_pct
    FROM (
        SELECT {SERIES}, level,
               greatest(0, least(e, {w.end_ms}) - greatest(b, {w.start_ms})) AS ms
        FROM (
            SELECT {SERIES}, previous AS level, t AS e,
                   lagInFrame(t, 1, toInt64(0)) OVER (
                       PARTITION BY {SERIES} ORDER BY t
                       ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING) AS b
            FROM ({_events_until(w.end_ms)})
            UNION ALL
            SELECT {SERIES}, argMax(severity, t) AS level, toInt64({w.end_ms}) AS e,
                   max(t) AS b
            FROM ({_events_until(w.end_ms)}) GROUP BY {SERIES}
        )
    )
    GROUP BY {SERIES}
    HAVING sum(ms) > 0
    ORDER BY availability_pct, host, item, instance, watch
    """
    return _report(run, f"Availability and time per severity, last {hours:g} h", sql)


def mttr(run: Run, hours: float = 24, now: float | None = None, top: int = 20) -> Report:
    """Mean time to recovery: from a raise (out of normal) to the next recover, per series."""
    w = Window.last(hours, now)
    sql = f"""
    SELECT {SERIES}, count() AS incidents,
           round(avg(t - began) / 1000, 1) AS mttr_s, round(max(t - began) / 1000, 1) AS longest_s
    FROM (
        SELECT {SERIES}, t, severity, previous,
               max(if(previous = 0 AND severity > 0, t, 0)) OVER (
                   PARTITION BY {SERIES} ORDER BY t
                   ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS began
        FROM ({_events_until(w.end_ms)})
    )
    WHERE severity = 0 AND previous > 0 AND began > 0 AND t >= {w.start_ms}
    GROUP BY {SERIES}
    ORDER BY mttr_s DESC, incidents DESC, host
    LIMIT {int(top)}
    """
    return _report(run, f"Mean time to recovery, last {hours:g} h", sql)


def noisiest_watches(
    run: Run, hours: float = 24, now: float | None = None, top: int = 10
) -> Report:
    """Watches by number of transitions: the candidates for a better threshold or duration."""
    w = Window.last(hours, now)
    sql = f"""
    SELECT watch, item, count() AS events, countIf(transition = 'raise') AS raises,
           uniqExact(host) AS hosts, max(severity) AS worst
    FROM events FINAL
    WHERE {w.sql()}
    GROUP BY watch, item
    ORDER BY events DESC, watch, item
    LIMIT {int(top)}
    """
    return _report(run, f"Noisiest watches, last {hours:g} h", sql)


def top_hosts(
    run: Run, item: str = "cpu.util", hours: float = 24, now: float | None = None, top: int = 10
) -> Report:
    """Hosts (and instances) with the highest average of an item, from the 1-minute rollup."""
    w = Window.last(hours, now)
    start_minute = w.start_ms // 60_000 * 60
    sql = f"""
    SELECT host, instance, round(avgMerge(avg_value), 3) AS avg, round(min(min_value), 3) AS min,
           round(max(max_value), 3) AS max, sum(samples) AS samples
    FROM samples_1m
    WHERE item = {quote(item)}
      AND minute >= toDateTime({start_minute}, 'UTC')
      AND minute <= toDateTime({w.end_ms // 1000}, 'UTC')
    GROUP BY host, instance
    ORDER BY avg DESC, host, instance
    LIMIT {int(top)}
    """
    return _report(run, f"Top {int(top)} hosts by {item} (average), last {hours:g} h", sql)


def all_reports(
    run: Run, hours: float = 24, item: str = "cpu.util", top: int = 10, now: float | None = None
) -> list[Report]:
    return [
        availability(run, hours, now),
        mttr(run, hours, now, top),
        noisiest_watches(run, hours, now, top),
        top_hosts(run, item, hours, now, top),
    ]
