"""Records to columns: the pure half of the history writer (no Kafka, no ClickHouse).

clickhouse-connect inserts fastest from columns (``column_oriented=True``): a list per
column, no per-row tuples. Timestamps travel as integer milliseconds because
``DateTime64(3)`` takes ticks directly, which skips a ``datetime`` object per row.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from gamsi.history.schema import DELIVERIES, EVENTS, HOSTS, REMEDIATIONS, SAMPLES, Table
from gamsi.schemas.codec import DecodeError, read_envelope
from gamsi.schemas.records import MetricBatch, SeverityEvent
from gamsi.schemas.validate import (
    check_batch,
    check_finite,
    check_severity,
    check_timestamp,
    describe,
)
from gamsi.schemas.validate import check_event as _check_event

DELIVERY_KIND = "delivery"


def millis(ts: float) -> int:
    """Seconds since the epoch (float) to DateTime64(3) ticks."""
    return round(ts * 1000)


class Columns:
    """Rows of one table held as one list per column, ready for a columnar insert."""

    def __init__(self, table: Table) -> None:
        self.table = table
        self.data: list[list[Any]] = [[] for _ in table.columns]

    def __len__(self) -> int:
        return len(self.data[0])

    def append(self, row: tuple[Any, ...]) -> None:
        for column, value in zip(self.data, row, strict=True):
            column.append(value)

    def clear(self) -> None:
        self.data = [[] for _ in self.table.columns]


class Buffer:
    """What the writer has consumed but not yet inserted, one :class:`Columns` per table."""

    def __init__(self) -> None:
        self.samples = Columns(SAMPLES)
        self.events = Columns(EVENTS)
        self.deliveries = Columns(DELIVERIES)
        self.hosts = Columns(HOSTS)
        self.remediations = Columns(REMEDIATIONS)

    def __len__(self) -> int:
        return len(self.samples) + len(self.events) + len(self.deliveries) + len(self.remediations)

    def tables(self) -> Iterator[Columns]:
        yield from (self.samples, self.events, self.deliveries, self.hosts, self.remediations)

    def add_batch(self, batch: MetricBatch) -> None:
        """One row per sample; raises DecodeError (adding nothing) if a field is out of range."""
        ts = millis(check_batch(batch).ts)
        cols = self.samples.data
        for sample in batch.samples:
            cols[0].append(ts)
            cols[1].append(batch.host)
            cols[2].append(sample.item)
            cols[3].append(sample.instance)
            cols[4].append(sample.value)
            cols[5].append(batch.tags)
        self.hosts.append((batch.host, batch.os, batch.tags, batch.interval, ts))

    def add_event(self, e: SeverityEvent) -> None:
        """One row; raises DecodeError (adding nothing) if a field is out of range."""
        check_event(e)
        self.events.append(
            (
                e.event_id,
                e.host,
                e.item,
                e.instance,
                e.watch,
                e.severity,
                e.previous,
                e.transition,
                e.value,
                e.threshold,
                millis(e.ts),
                millis(e.since),
                millis(e.emitted_at),
                e.message,
                e.tags,
            )
        )

    def add_delivery(self, d: dict[str, Any]) -> None:
        self.deliveries.append(tuple(d[c] for c in DELIVERIES.columns))

    def add_remediation(self, values: dict[str, Any]) -> None:
        """One audit row (gamsi.remediator.records.history_values)."""
        self.remediations.append(tuple(values[c] for c in REMEDIATIONS.columns))


def check_event(e: SeverityEvent) -> None:
    """Refuse an event the table cannot hold, whoever built it: one bad row would make
    every later insert of the buffer fail. The one validation every consumer shares
    (:func:`gamsi.schemas.validate.check_event`); decoded events have passed it already."""
    _check_event(e)


# -- delivery records ----------------------------------------------------------------
# The notifier writes them as orjson objects with the deliveries table's keys plus "v" and
# "kind": "delivery". They are not a schemas/records.py type (yet), so they are checked here
# with the same strictness as the codec: a wrong type is a dead letter, never a crash.
# Keys this reader does not know are ignored, so a newer notifier does not dead-letter
# every delivery.

_DELIVERY_TYPES: dict[str, type] = {
    "ts": float,  # seconds since the epoch, stored as DateTime64(3)
    "event_id": str,
    "route": str,
    "channel": str,
    "recipient": str,
    "host": str,
    "item": str,
    "instance": str,
    "severity": int,
    "transition": str,
    "result": str,
    "attempts": int,
    "error": str,
}
_REQUIRED = ("ts", "event_id", "channel", "result")


def decode_delivery(data: bytes) -> dict[str, Any]:
    """Validate one delivery record; returns the table's columns, or raises DecodeError."""
    kind, body = read_envelope(data)
    if kind != DELIVERY_KIND:
        raise DecodeError(f"expected kind 'delivery', got {describe(kind)}")
    missing = [k for k in _REQUIRED if k not in body]
    if missing:
        raise DecodeError(f"delivery: missing fields {missing}")
    return {key: _check(body.get(key), key, kind) for key, kind in _DELIVERY_TYPES.items()}


def _check(value: Any, key: str, kind: type) -> Any:
    if value is None:
        return kind()
    if kind is str:
        if not isinstance(value, str):
            raise DecodeError(f"delivery.{key}: expected a string, got {describe(value)}")
        return value
    check_finite(value, f"delivery.{key}")
    if kind is int:
        if not isinstance(value, int):
            raise DecodeError(f"delivery.{key}: expected a whole number, got {describe(value)}")
        if key == "severity":
            return check_severity(value, "delivery.severity")
        if key == "attempts" and not 0 <= value < 2**32:
            raise DecodeError(f"delivery.attempts: expected 0 or more, got {describe(value)}")
        return value
    return millis(check_timestamp(value, f"delivery.{key}"))  # ts is the only float field
