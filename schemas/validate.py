"""One validation of Gamsi's records, types *and* ranges, shared by every consumer.

The codec (:mod:`gamsi.schemas.codec`) checks that each field has its declared type;
this module checks that the value makes sense, so that a record the notifier would
notify is exactly a record the history writer would store and the stream worker would
judge. :func:`gamsi.schemas.codec.decode` calls it on every record it builds; code that
builds records itself (the history writer's buffer) calls it too.

Every message here is bounded in length and computed without recursion
(:func:`describe`), so checking a hostile value can never raise anything but
:class:`ValidationError`.
"""

from __future__ import annotations

import math
import re
from typing import Any

MIN_TS = 0.0
"""Earliest timestamp accepted: 1970-01-01T00:00:00Z (seconds since the epoch)."""
MAX_TS = 10_000_000_000.0
"""Timestamps must be below this: 2286-11-20T17:46:40Z. ClickHouse's ``DateTime64(3)``
holds dates up to 2299-12-31; anything this far away is a bug or a forgery."""
SEVERITY_RANGE = range(0, 6)
"""Severity levels 0 (normal) .. 5 (fatal), as :class:`gamsi.schemas.records.Severity`."""
TRANSITIONS = frozenset({"raise", "escalate", "deescalate", "recover"})
"""The four transitions a stream worker emits (see gamsi.streams.engine.TRANSITIONS)."""
MAX_SEQ = 2**63 - 1
"""A collector's tick counter fits a signed 64-bit integer."""
MAX_INTERVAL = 86_400.0
"""A collector samples at least once a day (seconds)."""
DESCRIBE_CHARS = 60
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
"""A control character: C0 (newline, tab, ESC, ...), DEL or C1, as ECMA-48 defines them.
Names from the field (host, item, instance, watch, tags, event_id) must not contain one:
printed raw, ESC recolours or clears a terminal and a newline forges a log line."""


class DecodeError(ValueError):
    """The bytes are not a valid Gamsi record; the message says why (re-exported by
    :mod:`gamsi.schemas.codec`, where callers import it from)."""


class ValidationError(DecodeError):
    """A record's field has the wrong type or is out of range; the message names the
    field and what was expected. A :class:`DecodeError`, so callers catch one type."""


def describe(value: Any, limit: int = DESCRIBE_CHARS) -> str:
    """A short description of any decoded JSON value for an error message.

    Never recursive and never longer than about ``limit`` + 40 characters: a list nested
    1,000 deep is "a list of 1 item", a 900 kB string is its first ``limit`` characters
    and its length. ``repr`` of such values raises RecursionError or fills the log."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        if value.bit_length() > 64:
            return f"an integer of {value.bit_length()} bits"
        return str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, str):
        if len(value) <= limit:
            return repr(value)
        return f"{value[:limit]!r}... ({len(value)} characters)"
    if isinstance(value, list | tuple):
        return f"a list of {len(value)} item{'' if len(value) == 1 else 's'}"
    if isinstance(value, dict):
        return f"an object with {len(value)} key{'' if len(value) == 1 else 's'}"
    return f"a {type(value).__name__}"


def check_timestamp(value: float, where: str, *, allow_zero: bool = True) -> float:
    """``value`` (seconds since the epoch) if it lies in [1970, 2286), else ValidationError.

    ``allow_zero`` is for optional times where 0 means "not set" (``since`` on recovery)."""
    check_finite(value, where)
    if not (MIN_TS <= value < MAX_TS) or (value == 0 and not allow_zero):
        raise ValidationError(
            f"{where}: expected seconds since 1970 before 2286, got {describe(value)}"
        )
    return value


def check_finite(value: float, where: str) -> float:
    """``value`` if it is a finite number (not bool, NaN or infinite), else ValidationError."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValidationError(f"{where}: expected a number, got {describe(value)}")
    if not math.isfinite(value):
        raise ValidationError(f"{where}: expected a finite number, got {describe(value)}")
    return value


def check_text(value: Any, where: str, *, required: bool = False, name: bool = False) -> str:
    """``value`` if it is a string (non-empty when ``required``), else ValidationError.

    With ``name`` (a host, item, instance, watch, tag or event id) it must also contain
    no control character (:data:`CONTROL`); free-form text (an event's message) may."""
    if not isinstance(value, str):
        raise ValidationError(f"{where}: expected a string, got {describe(value)}")
    if required and not value:
        raise ValidationError(f"{where}: must not be empty")
    if name:
        check_name(value, where)
    return value


def check_name(value: str, where: str) -> str:
    """``value`` (a string) if it has no control character, else ValidationError naming
    the first one as ``\\xNN`` and where it is (:data:`CONTROL`)."""
    found = CONTROL.search(value)
    if found is not None:
        raise ValidationError(
            f"{where}: control character \\x{ord(found.group()):02x} at position "
            f"{found.start()} is not allowed in a name, got {describe(value)}"
        )
    return value


def check_severity(value: Any, where: str) -> int:
    """``value`` if it is an integer severity 0..5, else ValidationError."""
    if isinstance(value, bool) or not isinstance(value, int) or value not in SEVERITY_RANGE:
        raise ValidationError(f"{where}: expected a severity 0..5, got {describe(value)}")
    return value


def check_tags(value: Any, where: str) -> list[str]:
    """``value`` if it is a list of strings without control characters, else
    ValidationError."""
    if not isinstance(value, list) or not all(isinstance(t, str) for t in value):
        raise ValidationError(f"{where}: expected a list of strings, got {describe(value)}")
    for i, tag in enumerate(value):
        check_name(tag, f"{where}[{i}]")
    return value


def check_batch(batch: Any) -> Any:
    """A :class:`MetricBatch` whose fields are all in range, else ValidationError.

    host non-empty; ts in [1970, 2286); seq 0..2^63-1; interval 0..86,400 s; each sample
    with a non-empty item, a string instance and a finite value; tags a list of strings;
    host, item, instance and tags without control characters (:func:`check_name`)."""
    check_batch_header(batch)
    if not isinstance(batch.samples, list):
        raise ValidationError(f"samples: expected a list, got {describe(batch.samples)}")
    for i, sample in enumerate(batch.samples):
        check_text(sample.item, f"samples[{i}].item", required=True, name=True)
        check_text(sample.instance, f"samples[{i}].instance", name=True)
        check_finite(sample.value, f"samples[{i}].value")
    return batch


def check_batch_header(batch: Any) -> Any:
    """:func:`check_batch` without the per-sample checks, for a batch the codec decoded
    (it checks each sample with the same rules while building it, so they run once on
    the stream worker's hot path)."""
    check_text(batch.host, "host", required=True, name=True)
    check_timestamp(batch.ts, "ts", allow_zero=False)
    seq = batch.seq
    if isinstance(seq, bool) or not isinstance(seq, int) or not 0 <= seq <= MAX_SEQ:
        raise ValidationError(f"seq: expected an integer 0..2^63-1, got {describe(seq)}")
    interval = check_finite(batch.interval, "interval")
    if not 0 <= interval <= MAX_INTERVAL:
        raise ValidationError(f"interval: expected 0..86400 s, got {describe(interval)}")
    check_text(batch.os, "os")
    check_tags(batch.tags, "tags")
    return batch


def check_event(event: Any) -> Any:
    """A :class:`SeverityEvent` whose fields are all in range, else ValidationError.

    event_id, host and item non-empty; severity and previous 0..5; transition one of
    raise, escalate, deescalate, recover; value and threshold finite; ts in [1970, 2286);
    since and emitted_at 0 (not set) or in that range; tags a list of strings; event_id,
    host, item, instance, watch and tags without control characters (the free-form
    message may have them: printers escape it, :mod:`gamsi.terminal`)."""
    for key in ("event_id", "host", "item"):
        check_text(getattr(event, key), key, required=True, name=True)
    for key in ("instance", "watch"):
        check_text(getattr(event, key), key, name=True)
    check_text(event.message, "message")
    check_severity(event.severity, "severity")
    check_severity(event.previous, "previous")
    if event.transition not in TRANSITIONS:
        raise ValidationError(
            f"transition: expected one of {', '.join(sorted(TRANSITIONS))}, "
            f"got {describe(event.transition)}"
        )
    check_finite(event.value, "value")
    check_finite(event.threshold, "threshold")
    check_timestamp(event.ts, "ts", allow_zero=False)
    check_timestamp(event.since, "since")
    check_timestamp(event.emitted_at, "emitted_at")
    check_tags(event.tags, "tags")
    return event


def check_dead_letter(letter: Any) -> Any:
    """A :class:`DeadLetter` with a non-negative partition and offset, else ValidationError."""
    for key in ("partition", "offset", "payload_size"):
        value = getattr(letter, key)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValidationError(f"{key}: expected an integer >= 0, got {describe(value)}")
    return letter
