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
    run: str = _f(
        "",
        "Agent run id: drawn at random each time the agent starts, kept by spooled batches; "
        "(run, seq) identifies a batch across agent restarts. Empty from older agents.",
        "",
    )


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


MAX_PAYLOAD_BYTES = 4096
"""A dead letter keeps at most this many bytes of the original value; the rest is found
in the source topic by (source_topic, partition, offset) while its retention lasts."""
MAX_KEY_BYTES = 256
MAX_REASON_CHARS = 1000
MAX_DEAD_LETTER_BYTES = 64 * 1024
"""What one encoded dead letter can weigh at most (every character of payload, key and
reason escaped as ``\\u00XX``), far below Kafka's default 1 MB message limit."""


def reading(value: float) -> str:
    """A measured value or threshold as people read it in messages, in the item's unit.

    ``99.8998`` → ``'99.9'``, ``0.0523`` → ``'0.0523'``, ``1234567.0`` →
    ``'1,234,567'``, ``90.0`` → ``'90'``. Only for text people read: the exact value
    stays in the record (and in a recovery script's arguments)."""
    if value != value or value in (float("inf"), float("-inf")):
        return str(value)
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    if abs(value) >= 1:
        return f"{value:.1f}".rstrip("0").rstrip(".")
    return f"{value:.3g}"


def clip_text(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, saying how long it was when cut."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... ({len(text)} characters)"


def clip_bytes(data: bytes | None, limit: int) -> str:
    """The first ``limit`` bytes of ``data`` as UTF-8 text with replacement characters."""
    return "" if data is None else data[:limit].decode("utf-8", "replace")


@dataclass(slots=True)
class DeadLetter:
    """A message that could not be processed: the reason, where it is, and its beginning.

    Bounded whatever the message: the payload keeps the first 4,096 bytes
    (``payload_size`` says how long the original was), the key 256 bytes and the reason
    1,000 characters, so a dead letter always fits in a Kafka message."""

    kind: ClassVar[str] = "dead_letter"

    reason: str = _f("", "Why the message was rejected, for a person to act on.")
    source_topic: str = _f("", "Topic the message came from.")
    partition: int = _f("", "Its partition.")
    offset: int = _f("", "Its offset.")
    payload: str = _f(
        "", "The original value's first 4,096 bytes, UTF-8 with replacement characters."
    )
    key: str = _f("", "The original key's first 256 bytes, UTF-8 with replacement characters.", "")
    received_at: float = _f("s since epoch (UTC)", "When the worker rejected it.", 0.0)
    worker: str = _f("", "Which worker rejected it.", "")
    payload_size: int = _f("bytes", "Size of the original value (larger than payload: cut).", 0)

    @classmethod
    def of(cls, reason: str, message: Any, worker: str) -> DeadLetter:
        """Wrap a consumed Kafka message (aiokafka's or Faust's: both have topic,
        partition, offset, key and value) with the reason it was rejected, bounded in
        size (see the class docstring). Never raises for any bytes or reason text."""
        value = message.value
        return cls(
            reason=clip_text(reason, MAX_REASON_CHARS),
            source_topic=message.topic,
            partition=message.partition,
            offset=message.offset,
            payload=clip_bytes(value, MAX_PAYLOAD_BYTES),
            key=clip_bytes(message.key, MAX_KEY_BYTES),
            received_at=time.time(),
            worker=worker,
            payload_size=0 if value is None else len(value),
        )


RECORD_TYPES: dict[str, type] = {cls.kind: cls for cls in (MetricBatch, SeverityEvent, DeadLetter)}
