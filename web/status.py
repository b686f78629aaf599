"""The fleet at a glance (감시 현황): the current severity of every server × watched item.

Pure and Kafka-free, so the web page, ``gamsi status`` and their tests share it. A
*cell* is one series a watch judges: (host, item, instance). Its severity is the
worst open problem among the watches on that series (two watches may judge the
same item, e.g. a CPU spike and a CPU average). Cells are built three ways, in this
order, and the result does not depend on where history lives (chDB or a server):

1. :meth:`FleetStatus.seed` — every (host, item, instance) the fleet reports and a
   watch covers, as NORMAL: a status page that only listed problems could not show
   "everything is fine" nor a server that reports nothing;
2. :meth:`FleetStatus.apply` — every severity event, oldest first: first the latest
   event per series from history (:data:`LATEST_EVENTS_SQL`), then the events topic
   from where history ends, so a restart of the web service rebuilds the same page;
3. :meth:`FleetStatus.acknowledge` — acknowledgements, which mark a problem (not
   the series: a later problem on the same series starts unacknowledged).

Severity names, colours and Korean labels come from :class:`Severity`; the
colour is never the only signal (each cell also carries its level's name).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from gamsi.schemas.records import Severity

#: The latest event per series and watch, from the history ``events`` table (FINAL: the
#: table is a ReplacingMergeTree and the writer is at-least-once).
LATEST_EVENTS_SQL = (
    "SELECT host, item, instance, watch, argMax(severity, ts), argMax(event_id, ts), "
    "argMax(value, ts), argMax(threshold, ts), toFloat64(max(ts)), "
    "toFloat64(argMax(since, ts)), argMax(transition, ts) "
    "FROM events FINAL GROUP BY host, item, instance, watch"
)


@dataclass(slots=True)
class Cell:
    """One series: its worst open problem across the watches that judge it."""

    host: str
    item: str
    instance: str
    watches: dict[str, dict[str, Any]] = field(default_factory=dict)
    """watch → {severity, event_id, value, threshold, ts, since, acked_by} of its last event."""

    @property
    def severity(self) -> Severity:
        return Severity(max((w["severity"] for w in self.watches.values()), default=0))

    @property
    def worst(self) -> dict[str, Any] | None:
        """The watch state that decides the cell's severity (None when nothing judged it)."""
        if not self.watches:
            return None
        return max(self.watches.values(), key=lambda w: (w["severity"], w["ts"]))

    def to_dict(self) -> dict[str, Any]:
        """JSON shape served to the page and printed by ``gamsi status --json``."""
        worst = self.worst or {}
        sev = self.severity
        return {
            "host": self.host,
            "item": self.item,
            "instance": self.instance,
            "severity": int(sev),
            "level": sev.name.lower(),
            "label": sev.korean,
            "colour": sev.colour,
            "watch": worst.get("watch", ""),
            "value": worst.get("value"),
            "threshold": worst.get("threshold"),
            "ts": worst.get("ts", 0.0),
            "since": worst.get("since", 0.0),
            "event_id": worst.get("event_id", ""),
            "acked_by": worst.get("acked_by", ""),
        }


@dataclass(frozen=True)
class Filters:
    """What the overview and ``gamsi status`` narrow by; empty means everything.

    ``min_severity`` keeps cells at or above a level; ``hosts`` are shell globs on
    the name; ``tags`` keeps hosts having any of them; ``os`` keeps hosts of that OS.
    """

    min_severity: int = 0
    hosts: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    os: str = ""


@dataclass(slots=True)
class HostInfo:
    os: str = ""
    tags: tuple[str, ...] = ()


class FleetStatus:
    """Cells keyed by (host, item, instance), plus each host's OS and tags."""

    def __init__(self) -> None:
        self.cells: dict[tuple[str, str, str], Cell] = {}
        self.hosts: dict[str, HostInfo] = {}
        self._by_event: dict[str, tuple[tuple[str, str, str], str]] = {}
        self.built_at = 0.0
        """When the picture was last rebuilt (s since epoch), for the page's footer."""

    def _cell(self, host: str, item: str, instance: str) -> Cell:
        key = (host, item, instance)
        cell = self.cells.get(key)
        if cell is None:
            cell = self.cells[key] = Cell(host, item, instance)
            self.hosts.setdefault(host, HostInfo())
        return cell

    def seed(self, host: str, item: str, instance: str = "") -> None:
        """A watched series with no event yet: shown NORMAL."""
        self._cell(host, item, instance)

    def describe_host(self, host: str, os: str, tags: Iterable[str]) -> None:
        self.hosts[host] = HostInfo(os, tuple(tags))

    def apply(self, event: Mapping[str, Any]) -> tuple[str, str, str] | None:
        """Fold one severity event (a decoded record or a history row as a dict) in.

        Returns the key of the cell that changed, or None for an event older than
        what the cell already shows (events from history and the topic overlap).
        """
        key = (str(event["host"]), str(event.get("item", "")), str(event.get("instance", "")))
        cell = self._cell(*key)
        watch = str(event.get("watch", ""))
        ts = float(event["ts"])
        old = cell.watches.get(watch)
        if old is not None and ts < old["ts"]:
            return None
        if event.get("tags"):
            info = self.hosts[key[0]]
            info.tags = tuple(event["tags"])
        sev = int(event["severity"])
        same_problem = old is not None and old["severity"] > 0 and sev > 0
        event_id = str(event.get("event_id", ""))
        cell.watches[watch] = {
            "watch": watch,
            "severity": sev,
            "event_id": event_id,
            "value": float(event.get("value", 0.0)),
            "threshold": float(event.get("threshold", 0.0)),
            "ts": ts,
            "since": float(event.get("since", 0.0) or (ts if sev else 0.0)),
            # An ack belongs to one problem: kept across escalations, dropped on recovery.
            "acked_by": old["acked_by"] if same_problem and old else "",
            # The ids of this problem's events: what an ack may name.
            "problem": [*old["problem"], event_id] if same_problem and old else [event_id],
        }
        if event_id:
            self._by_event[event_id] = (key, watch)
        return key

    def acknowledge(self, event_id: str, by: str) -> tuple[str, str, str] | None:
        """Mark the open problem that ``event_id`` belongs to; None if it names none."""
        found = self._by_event.get(event_id)
        if found is None:
            return None
        key, watch = found
        state = self.cells[key].watches.get(watch)
        if state is None or state["severity"] == 0 or event_id not in state["problem"]:
            return None
        state["acked_by"] = by or "?"
        return key

    def select(self, filters: Filters = Filters()) -> list[Cell]:
        """Cells passing ``filters``, worst first, then newest, then by name."""
        out = []
        for cell in self.cells.values():
            info = self.hosts.get(cell.host, HostInfo())
            if cell.severity < filters.min_severity:
                continue
            if filters.hosts and not any(fnmatch.fnmatchcase(cell.host, g) for g in filters.hosts):
                continue
            if filters.tags and not set(filters.tags) & set(info.tags):
                continue
            if filters.os and info.os != filters.os:
                continue
            out.append(cell)
        out.sort(key=lambda c: (-c.severity, -(c.worst or {}).get("ts", 0.0), c.host, c.item))
        return out

    def counts(self, cells: Iterable[Cell] | None = None) -> dict[str, int]:
        """Cells per level name, every level present (0 when none), normal first."""
        counts = {s.name.lower(): 0 for s in Severity}
        for cell in self.cells.values() if cells is None else cells:
            counts[cell.severity.name.lower()] += 1
        return counts


def history_event(row: list[Any] | tuple[Any, ...]) -> dict[str, Any]:
    """A row of :data:`LATEST_EVENTS_SQL` as the event mapping :meth:`FleetStatus.apply` takes."""
    host, item, instance, watch, sev, event_id, value, threshold, ts, since, transition = row
    return {
        "host": host,
        "item": item,
        "instance": instance,
        "watch": watch,
        "severity": int(sev),
        "event_id": event_id,
        "value": float(value),
        "threshold": float(threshold),
        "ts": float(ts),
        "since": float(since),
        "transition": transition,
    }


__all__ = ["LATEST_EVENTS_SQL", "Cell", "Filters", "FleetStatus", "history_event"]
