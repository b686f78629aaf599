"""Silences: a mute made on the spot, for a while, by matching events (like amtool's).

``gamsi silence add --host 'db-*' --for 2h --comment "disk swap"`` writes one record
to the silences topic (compacted, keyed by the silence id); ``gamsi silence expire ID``
writes the same record again with its end set to now, so compaction keeps the latest
form and ``gamsi silence list --all`` can still show it. The notifier (and the
remediator) read the topic from its beginning and follow it.

A silence matches an event when **every** matcher it has holds (Alertmanager's
rule: matchers are ANDed), each matcher being a list of shell globs of which any
may match: ``hosts`` on the host, ``watches`` on the watch, ``items`` on the item,
and ``tags`` (any of them among the event's tags). A silence without any matcher
would mute everything and is refused. It is in force from ``starts`` until
``ends`` (epoch seconds, ``starts <= now < ends``).

What a silence does is what a maintenance window does (:mod:`gamsi.notifier.mute`,
one mechanism): deliveries on every path that sends are suppressed and logged, and a
recovery owed to someone who was told is held until the silence ends (or is expired).

Records never stop a reader: :func:`parse_silence` returns None for anything that is
not a well-formed silence (logged by the caller).
"""

from __future__ import annotations

import fnmatch
import math
import uuid
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import orjson

from gamsi.durations import format_duration
from gamsi.schemas.records import SCHEMA_VERSION, SeverityEvent

MATCHERS = ("hosts", "watches", "items", "tags")
MATCHER_LABELS = {"hosts": "host", "watches": "watch", "items": "item", "tags": "tag"}
"""How each matcher is written for people (the CLI's option names)."""
MAX_PATTERNS = 100
"""Globs per matcher at most, and characters per glob at most :data:`MAX_TEXT`."""
MAX_TEXT = 1000
MAX_SPAN = 366 * 86400.0
"""The longest silence, in seconds (a forgotten one ends within a year)."""
RETENTION = 5 * 86400.0
"""Seconds an ended silence stays on the topic (``list --all`` shows it), then it is
removed by the next ``add`` or ``expire`` (Alertmanager's default: 120 h)."""
MAX_SILENCES = 10_000
"""Silences a reader keeps at most; records beyond are skipped (a flood cannot grow it)."""


class SilenceError(ValueError):
    """A silence that cannot be made; the message is one line for the user."""


@dataclass(frozen=True)
class Silence:
    """One silence: matchers (globs; every given one must hold), a span, who and why."""

    id: str
    starts: float
    ends: float
    by: str = ""
    comment: str = ""
    hosts: tuple[str, ...] = ()
    watches: tuple[str, ...] = ()
    items: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    created: float = 0.0
    expired_by: str = ""

    def matches(self, event: SeverityEvent) -> bool:
        """Whether every matcher of this silence holds for ``event``."""
        return (
            _any_glob(self.hosts, [event.host])
            and _any_glob(self.watches, [event.watch])
            and _any_glob(self.items, [event.item])
            and _any_glob(self.tags, event.tags)
        )

    def active(self, ts: float) -> bool:
        return self.starts <= ts < self.ends

    def covers(self, event: SeverityEvent, ts: float) -> bool:
        """Whether this silence mutes ``event`` at ``ts`` (epoch seconds)."""
        return self.active(ts) and self.matches(event)

    def matchers_text(self) -> str:
        """``host=db-* watch=disk-space`` (what it matches, for people)."""
        parts = []
        for name in MATCHERS:
            values = getattr(self, name)
            if values:
                parts.append(f"{MATCHER_LABELS[name]}={','.join(values)}")
        return " ".join(parts)

    def describe(self) -> str:
        """``silence 3f2a9c1e until 2026-12-01 05:00 UTC by kim: disk swap``."""
        by = f" by {self.by}" if self.by else ""
        note = f": {self.comment}" if self.comment else ""
        return f"silence {self.id[:8]} until {clock(self.ends)}{by}{note}"

    def to_record(self) -> dict[str, Any]:
        """The silences-topic record (version 1)."""
        return {
            "v": SCHEMA_VERSION,
            "kind": "silence",
            "id": self.id,
            "starts": self.starts,
            "ends": self.ends,
            "by": self.by,
            "comment": self.comment,
            "created": self.created,
            "expired_by": self.expired_by,
            "matchers": {m: list(getattr(self, m)) for m in MATCHERS if getattr(self, m)},
        }


def clock(ts: float) -> str:
    """Epoch seconds as ``2026-12-01 05:00 UTC``."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M UTC")


def _any_glob(patterns: tuple[str, ...], values: list[str]) -> bool:
    if not patterns:
        return True
    return any(fnmatch.fnmatchcase(v, p) for p in patterns for v in values)


def new_silence(
    matchers: dict[str, list[str]],
    starts: float,
    duration: float,
    by: str,
    comment: str,
) -> Silence:
    """A new silence from ``starts`` for ``duration`` seconds; raises :class:`SilenceError`
    for no matcher at all, an empty glob, a duration of 0 or above :data:`MAX_SPAN`."""
    values = {m: tuple(matchers.get(m) or ()) for m in MATCHERS}
    unknown = set(matchers) - set(MATCHERS)
    if unknown:
        raise SilenceError(f"unknown matcher {sorted(unknown)[0]!r}; expected {MATCHERS}")
    if not any(values.values()):
        raise SilenceError(
            "expected at least one of --host, --watch, --item, --tag: a silence without "
            "a matcher would silence everything"
        )
    if any(not p.strip() for ps in values.values() for p in ps):
        raise SilenceError("expected non-empty globs (an empty --host matches no host)")
    if not 0 < duration <= MAX_SPAN:
        raise SilenceError(f"expected --for between 1s and 366d, got {format_duration(duration)}")
    if not comment.strip():
        raise SilenceError("expected a --comment saying why (shown wherever the silence is)")
    return Silence(
        id=uuid.uuid4().hex, starts=starts, ends=starts + duration, by=by,
        comment=comment, created=starts, **values,
    )  # fmt: skip


def expired(silence: Silence, now: float, by: str) -> Silence:
    """The record that ends ``silence`` at ``now`` (its start too, if it had not begun)."""
    return replace(silence, ends=now, starts=min(silence.starts, now), expired_by=by)


def _text(value: Any, limit: int = MAX_TEXT) -> str | None:
    return value if isinstance(value, str) and len(value) <= limit else None


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def parse_silence(data: bytes | dict[str, Any]) -> Silence | None:
    """A well-formed silence record as a :class:`Silence`, or None (never raises)."""
    try:
        body = orjson.loads(data) if isinstance(data, bytes) else data
    except orjson.JSONDecodeError:
        return None
    if not isinstance(body, dict) or body.get("kind") != "silence":
        return None
    fields: dict[str, Any] = {
        "id": _text(body.get("id"), 64),
        **{k: _text(body.get(k, "")) for k in ("by", "comment", "expired_by")},
        **{k: _number(body.get(k)) for k in ("starts", "ends")},
        "created": _number(body.get("created", 0.0)),
    }
    raw = body.get("matchers")
    if None in fields.values() or not fields["id"] or not isinstance(raw, dict):
        return None
    matchers: dict[str, tuple[str, ...]] = {}
    for name, globs in raw.items():
        if name not in MATCHERS or not isinstance(globs, list) or len(globs) > MAX_PATTERNS:
            return None
        if not all(_text(g) for g in globs):
            return None
        matchers[name] = tuple(globs)
    if not any(matchers.values()):
        return None
    return Silence(**fields, **matchers)


@dataclass
class SilenceBook:
    """The silences known to a process, by id (the latest record of each wins)."""

    silences: dict[str, Silence] = field(default_factory=dict)

    def apply(self, key: str, value: bytes | None) -> Silence | None:
        """One topic record: a silence (added or replaced) or a tombstone (removed).
        Returns the silence, or None for a tombstone or a record that is not one."""
        if value is None:
            self.silences.pop(key, None)
            return None
        silence = parse_silence(value)
        if silence is None:
            return None
        if silence.id not in self.silences and len(self.silences) >= MAX_SILENCES:
            return None
        self.silences[silence.id] = silence
        return silence

    def add(self, silence: Silence) -> None:
        self.silences[silence.id] = silence

    def active(self, ts: float) -> list[Silence]:
        """Silences in force at ``ts``, the one that ends first first."""
        return sorted((s for s in self.silences.values() if s.active(ts)), key=lambda s: s.ends)

    def covering(self, event: SeverityEvent, ts: float) -> Silence | None:
        """The silence in force at ``ts`` that mutes ``event`` and ends last, or None."""
        found = [s for s in self.silences.values() if s.covers(event, ts)]
        return max(found, key=lambda s: s.ends) if found else None

    def stale(self, now: float) -> list[str]:
        """Ids of silences that ended more than :data:`RETENTION` seconds before ``now``."""
        return [s.id for s in self.silences.values() if s.ends < now - RETENTION]

    def find(self, prefix: str) -> Silence:
        """The silence whose id is or starts with ``prefix``; SilenceError if none or several."""
        if prefix in self.silences:
            return self.silences[prefix]
        found = [s for s in self.silences.values() if prefix and s.id.startswith(prefix)]
        if len(found) != 1:
            what = "no silence" if not found else f"{len(found)} silences"
            raise SilenceError(f"{what} with id {prefix!r}; `gamsi silence list --all` shows ids")
        return found[0]
