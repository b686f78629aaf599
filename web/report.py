"""`gamsi report`: availability, time per severity, MTTR, noisiest watches, top-N servers.

Every figure comes from the severity events in history (``events FINAL``: a
redelivered event counts once). A *series* (host, item, instance, watch) is at the
level of its last event; before its first event in the window it was at the level
of its last event before the window (or, with none, at that first event's
``previous``). From these step functions, over the period ``[start, end]``:

* **per server**: the time the server spent at each level, where a server's level at
  an instant is the worst level of its series then; availability is the share of the
  period below ``down_from`` (urgent by default: a 긴급 or 치명 problem is an outage);
* **per watch**: the series-time at each level summed over the watch's series, and
  its availability the same way (so 2 of 10 servers down for an hour is 90 %);
* **MTTR per watch**: the mean of (recovery − start of the problem) over the problems
  that recovered in the period, where a problem starts at the event that left normal
  (a problem that started before the period starts at its ``since``) and escalations
  do not restart it — the clock Zabbix's and PagerDuty's MTTR use;
* **noisiest watches**: events (transitions) in the period, raises, servers;
* **top-N servers by an item**: the 1-minute rollup's average
  (:func:`gamsi.history.reports.top_hosts`).

A server or series with no event at all was normal throughout and is not listed.
"""

from __future__ import annotations

import fnmatch
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from gamsi.history.reports import Report, Run, Window, quote, top_hosts
from gamsi.schemas.records import Severity

LEVELS = [s.name.lower() for s in Severity]
Series = tuple[str, str, str, str]


@dataclass
class Step:
    """A series' levels over the period: ``(t, level)`` changes, the first at ``start``."""

    changes: list[tuple[float, int]] = field(default_factory=list)
    problems: list[float] = field(default_factory=list)
    """Durations (s) of the problems that recovered in the period."""
    raises: int = 0
    events: int = 0


def like(glob: str) -> str:
    """A shell glob as a ClickHouse LIKE pattern (``*`` → ``%``, ``?`` → ``_``)."""
    out = glob.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return out.replace("*", "%").replace("?", "_")


def events_sql(w: Window, hosts: str = "") -> str:
    """The period's events and, per series, its last event before the period (``before``)."""
    cond = f" AND host LIKE {quote(like(hosts))}" if hosts else ""
    cols = "host, item, instance, watch"
    return (
        f"SELECT {cols}, toUnixTimestamp64Milli(ts) AS t, severity, previous, transition, "
        f"toUnixTimestamp64Milli(since) FROM events FINAL WHERE {w.sql()}{cond} "
        f"UNION ALL SELECT {cols}, toUnixTimestamp64Milli(max(ts)), argMax(severity, ts), "
        f"argMax(previous, ts), 'before', toUnixTimestamp64Milli(argMax(since, ts)) "
        f"FROM events FINAL WHERE ts < fromUnixTimestamp64Milli(toInt64({w.start_ms}), 'UTC')"
        f"{cond} GROUP BY {cols}"
    )


def steps(rows: Iterable[list[Any]], start: float, end: float) -> dict[Series, Step]:
    """Each series' :class:`Step` from rows of :func:`events_sql` (times in ms)."""
    by: dict[Series, list[list[Any]]] = defaultdict(list)
    for r in rows:
        by[(r[0], r[1], r[2], r[3])].append(r)
    out = {}
    for key, evs in by.items():
        before = [r for r in evs if r[7] == "before"]
        inside = sorted((r for r in evs if r[7] != "before"), key=lambda r: r[4])
        st = Step()
        if before:
            level, began = int(before[0][5]), float(before[0][8]) / 1000
        else:
            level, began = (int(inside[0][6]) if inside else 0), start
        began = began if level > 0 and began > 0 else (start if level > 0 else 0.0)
        st.changes.append((start, level))
        for r in inside:
            t, sev = float(r[4]) / 1000, int(r[5])
            st.events += 1
            if level == 0 and sev > 0:
                began, st.raises = t, st.raises + 1
            elif level > 0 and sev == 0:
                st.problems.append(t - began)
            level = sev
            st.changes.append((t, sev))
        if inside or level > 0:
            out[key] = st
    return out


def _durations(changes: list[tuple[float, int]], end: float) -> list[float]:
    """Seconds at each level from ``changes`` until ``end``."""
    per = [0.0] * len(LEVELS)
    for (t0, lv), (t1, _) in zip(changes, [*changes[1:], (end, 0)], strict=True):
        per[lv] += max(0.0, t1 - t0)
    return per


def _worst_of(series: list[Step]) -> list[tuple[float, int]]:
    """The worst level of several series at each instant, as changes: one sweep over
    every change in time order, counting the series at each level (O(n log n))."""
    merged = sorted((t, i, lv) for i, s in enumerate(series) for t, lv in s.changes)
    current = [0] * len(series)
    at_level = [len(series)] + [0] * (len(LEVELS) - 1)
    out: list[tuple[float, int]] = []
    for n, (t, i, lv) in enumerate(merged):
        at_level[current[i]] -= 1
        at_level[lv] += 1
        current[i] = lv
        if n + 1 < len(merged) and merged[n + 1][0] == t:
            continue  # more changes at this instant: decide after the last one
        worst = max(x for x in range(len(LEVELS)) if at_level[x] or x == 0)
        if not out or out[-1][1] != worst:
            out.append((t, worst))
    return out


def _pct(good: float, total: float) -> float:
    return round(100 * good / total, 2) if total > 0 else 100.0


def per_server(st: dict[Series, Step], w: Window, down_from: int) -> Report:
    """Time at each level (s) and availability (%) per server, least available first."""
    end = w.end_ms / 1000
    hosts: dict[str, list[Step]] = defaultdict(list)
    for key, s in st.items():
        hosts[key[0]].append(s)
    rows = []
    for host, series in hosts.items():
        per = _durations(_worst_of(series), end)
        up = sum(per[:down_from])
        rows.append(
            [host, *(round(x, 1) for x in per), _pct(up, w.seconds), sum(s.raises for s in series)]
        )
    rows.sort(key=lambda r: (r[-2], r[0]))
    cols = ["host", *(f"{lv}_s" for lv in LEVELS), "availability_pct", "problems"]
    return Report("Availability and time per severity, per server", cols, rows)


def per_watch(st: dict[Series, Step], w: Window, down_from: int) -> list[Report]:
    """Per watch: series-time at each level and availability; and MTTR."""
    end = w.end_ms / 1000
    watches: dict[tuple[str, str], list[Step]] = defaultdict(list)
    for key, s in st.items():
        watches[(key[3], key[1])].append(s)
    avail, mttr = [], []
    for (watch, item), series in watches.items():
        per = [sum(x) for x in zip(*(_durations(s.changes, end) for s in series), strict=True)]
        total = w.seconds * len(series)
        avail.append(
            [
                watch,
                item,
                len(series),
                *(round(x, 1) for x in per),
                _pct(sum(per[:down_from]), total),
            ]
        )
        done = [d for s in series for d in s.problems]
        if done:
            mttr.append(
                [watch, item, len(done), round(sum(done) / len(done), 1), round(max(done), 1)]
            )
    avail.sort(key=lambda r: (r[-1], r[0], r[1]))
    mttr.sort(key=lambda r: (-r[3], r[0], r[1]))
    return [
        Report(
            "Availability and time per severity, per watch",
            ["watch", "item", "series", *(f"{lv}_s" for lv in LEVELS), "availability_pct"],
            avail,
        ),
        Report(
            "Mean time to recovery, per watch",
            ["watch", "item", "incidents", "mttr_s", "longest_s"],
            mttr,
        ),
    ]


def noisiest(st: dict[Series, Step], top: int) -> Report:
    """Watches by events in the period: candidates for a better threshold or duration."""
    agg: dict[tuple[str, str], list[Any]] = {}
    for (host, item, _, watch), s in st.items():
        if not s.events:
            continue
        row = agg.setdefault((watch, item), [watch, item, 0, 0, set(), 0])
        row[2] += s.events
        row[3] += s.raises
        row[4].add(host)
        row[5] = max(row[5], max(lv for _, lv in s.changes))
    rows = [[r[0], r[1], r[2], r[3], len(r[4]), LEVELS[r[5]]] for r in agg.values()]
    rows.sort(key=lambda r: (-r[2], r[0], r[1]))
    return Report(
        "Noisiest watches", ["watch", "item", "events", "raises", "hosts", "worst"], rows[:top]
    )


def build(
    run: Run,
    w: Window,
    *,
    hosts: str = "",
    item: str = "cpu.util",
    top: int = 10,
    down_from: int = Severity.URGENT,
) -> list[Report]:
    """Every report over ``w`` (hosts narrowed by the glob ``hosts``), in print order."""
    st = steps(run(events_sql(w, hosts)).rows, w.start_ms / 1000, w.end_ms / 1000)
    top_n = top_hosts(run, item, w.seconds / 3600, w.end_ms / 1000, top)
    if hosts:
        top_n.rows = [r for r in top_n.rows if fnmatch.fnmatchcase(str(r[0]), hosts)]
    return [per_server(st, w, down_from), *per_watch(st, w, down_from), noisiest(st, top), top_n]


__all__ = ["build", "events_sql", "like", "noisiest", "per_server", "per_watch", "steps"]
