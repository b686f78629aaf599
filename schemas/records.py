"""The records that travel on Gamsi's topics, with units and meanings.

Every record is a plain dataclass: the pure rule engine, the collector and the
consumers share them without importing Kafka or Faust. Each field's metadata
carries its unit and description; ``gamsi schemas`` prints them as JSON Schema,
so the wire format is documented by the code that produces it.

Versioning: every message carries ``v`` (the schema version) and ``kind``.
Readers accept every version up to ``SCHEMA_VERSION`` and reject newer ones with
a dead letter, so an old worker never half-understands a new collector.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any, ClassVar

SCHEMA_VERSION = 1


def _f(unit: str, description: str, default: Any = ..., factory: Any = None) -> Any:
    meta = {"unit": unit, "description": description}
    if factory is not None:
        return field(default_factory=factory, metadata=meta)
    if default is ...:
        return field(metadata=meta)
    return field(default=default, metadata=meta)


class Severity(IntEnum):
    """The six levels of the seed product, ordered so that a larger value is worse."""

    NORMAL = 0
    HARMLESS = 1
    CAUTION = 2
    DANGER = 3
    URGENT = 4
    FATAL = 5

    @property
    def colour(self) -> str:
        return _COLOURS[self]

    @property
    def korean(self) -> str:
        return _KOREAN[self]

    @classmethod
    def parse(cls, name: str) -> Severity:
        try:
            return cls[name.upper()]
        except KeyError:
            raise ValueError(
                f"unknown severity {name!r}; expected one of "
                f"{', '.join(s.name.lower() for s in cls)}"
            ) from None


_COLOURS = {
    Severity.NORMAL: "#2eb886",  # green
    Severity.HARMLESS: "#3aa3e3",  # blue
    Severity.CAUTION: "#f2c744",  # yellow
    Severity.DANGER: "#f28b30",  # orange
    Severity.URGENT: "#e01e5a",  # red
    Severity.FATAL: "#7c3aed",  # purple
}
_KOREAN = {
    Severity.NORMAL: "정상",
    Severity.HARMLESS: "무해",
    Severity.CAUTION: "주의",
    Severity.DANGER: "위험",
    Severity.URGENT: "긴급",
    Severity.FATAL: "치명",
}


@dataclass(frozen=True, slots=True)
class Sample:
    """One measured value of one item (and instance) at the batch's time."""

    item: str = _f("", "Item name from the catalogue, e.g. cpu.util, disk.used_pct.")
    value: float = _f("item's unit", "The measured value, in the unit the catalogue gives.")
    instance: str = _f("", "Mount, device, NIC or process name; empty for host-wide items.", "")


@dataclass(slots=True)
class MetricBatch:
    """All samples of one host from one collection tick: one Kafka message keyed by host."""

    kind: ClassVar[str] = "metric_batch"

    host: str = _f("", "Name of the server that collected the samples.")
    ts: float = _f("s since epoch (UTC)", "When the collector took the samples (its clock).")
    samples: list[Sample] = _f("", "The samples of this tick.", factory=list)
    seq: int = _f("", "Collector's tick counter; restarts at 0 when the agent restarts.", 0)
    interval: float = _f("s", "The collector's configured interval.", 0.0)
    os: str = _f("", "linux, windows, darwin, ... (psutil's view of the platform).", "")
    tags: list[str] = _f("", "Tags/groups this server belongs to.", factory=list)


@dataclass(slots=True)
class SeverityEvent:
    """One transition of one watch on one host: raise, escalate, de-escalate or recover."""

    kind: ClassVar[str] = "severity_event"

    event_id: str = _f("", "Deterministic id of the transition: equal ids are the same event.")
    host: str = _f("", "Server the event is about.")
    item: str = _f("", "Watched item.")
    instance: str = _f("", "Instance of the item (mount, NIC, ...); empty for host-wide items.")
    watch: str = _f("", "Name of the watch that decided.")
    severity: int = _f("0..5", "New severity (0 normal .. 5 fatal).")
    previous: int = _f("0..5", "Severity before this transition.")
    transition: str = _f("", "raise, escalate, deescalate or recover.")
    value: float = _f("item's unit", "The value that caused the transition.")
    threshold: float = _f("item's unit", "The threshold (or recovery threshold) crossed.")
    ts: float = _f("s since epoch (UTC)", "Event time: the sample's timestamp.")
    since: float = _f("s since epoch (UTC)", "When the current problem began (0 on recovery).", 0.0)
    emitted_at: float = _f("s since epoch (UTC)", "When the stream processor emitted it.", 0.0)
    message: str = _f("", "Human-readable summary.", "")
    tags: list[str] = _f("", "Tags/groups of the host, for routing.", factory=list)


@dataclass(slots=True)
class DeadLetter:
    """A message that could not be processed, kept whole with the reason."""

    kind: ClassVar[str] = "dead_letter"

    reason: str = _f("", "Why the message was rejected, for a person to act on.")
    source_topic: str = _f("", "Topic the message came from.")
    partition: int = _f("", "Its partition.")
    offset: int = _f("", "Its offset.")
    payload: str = _f("", "The original bytes, UTF-8 with replacement characters.")
    key: str = _f("", "The original key, UTF-8 with replacement characters.", "")
    received_at: float = _f("s since epoch (UTC)", "When the worker rejected it.", 0.0)
    worker: str = _f("", "Which worker rejected it.", "")

    @classmethod
    def of(cls, reason: str, message: Any, worker: str) -> DeadLetter:
        """Wrap a consumed Kafka message (aiokafka's or Faust's: both have topic,
        partition, offset, key and value) whole, with the reason it was rejected."""

        def text(b: bytes | None) -> str:
            return "" if b is None else b.decode("utf-8", "replace")

        return cls(
            reason=reason,
            source_topic=message.topic,
            partition=message.partition,
            offset=message.offset,
            payload=text(message.value),
            key=text(message.key),
            received_at=time.time(),
            worker=worker,
        )


RECORD_TYPES: dict[str, type] = {cls.kind: cls for cls in (MetricBatch, SeverityEvent, DeadLetter)}
