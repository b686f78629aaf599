"""When a contact is on duty and when maintenance is on: weekdays and hours in a time zone.

Pure functions of an epoch timestamp: the caller passes the time in (tests
inject a clock and cross time-zone boundaries and DST changes). Wall-clock hours
are read in the window's own zone with :mod:`zoneinfo`, so "09:00-18:00
Europe/Berlin" follows Berlin's clock through the DST change. An overnight range
("22:00-06:00") belongs to the day it starts on.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, time
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from gamsi.settings import ConfigError

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_HOURS = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


@dataclass(frozen=True)
class Window:
    """Active on ``days`` (0 = Monday) during ``ranges`` of local time in ``tz``."""

    days: frozenset[int]
    ranges: tuple[tuple[time, time], ...]
    tz: ZoneInfo

    def describe(self) -> str:
        """``mon-fri 09:00-18:00 Asia/Seoul`` (for route-test and logs)."""
        days = "every day" if len(self.days) == 7 else days_text(self.days)
        hours = ", ".join(
            f"{a:%H:%M}-{'24:00' if b.second == 59 else format(b, '%H:%M')}" for a, b in self.ranges
        )
        return f"{days} {hours} {self.tz.key}"

    def active(self, ts: float) -> bool:
        local = datetime.fromtimestamp(ts, self.tz)
        now, weekday = local.time(), local.weekday()
        for start, end in self.ranges:
            if start < end:
                if weekday in self.days and start <= now < end:
                    return True
            elif (weekday in self.days and now >= start) or (
                (weekday - 1) % 7 in self.days and now < end
            ):
                return True
        return False


def days_text(days: frozenset[int]) -> str:
    """``mon-fri``, ``sat,sun``, ``mon,wed-fri`` (runs of three or more as ranges)."""
    runs: list[list[int]] = []
    for d in sorted(days):
        if runs and runs[-1][-1] == d - 1:
            runs[-1].append(d)
        else:
            runs.append([d])
    parts = [
        f"{DAYS[r[0]]}-{DAYS[r[-1]]}" if len(r) > 2 else ",".join(DAYS[d] for d in r) for r in runs
    ]
    return ",".join(parts)


def parse_zone(value: object, where: str) -> ZoneInfo:
    if not isinstance(value, str):
        raise ConfigError(f"{where}: expected an IANA time zone such as Asia/Seoul, got {value!r}")
    try:
        return ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            f"{where}: unknown time zone {value!r}; expected an IANA name such as Asia/Seoul"
        ) from None


def parse_days(value: object, where: str) -> frozenset[int]:
    """'mon-fri', 'sat,sun', ['mon', 'wed'] or 'all'."""
    if value is None or value == "all":
        return frozenset(range(7))
    parts: Iterable[object]
    if isinstance(value, str):
        parts = [p.strip() for p in value.split(",")]
    elif isinstance(value, list):
        parts = value
    else:
        raise ConfigError(
            f"{where}: expected weekdays such as mon-fri or [sat, sun], got {value!r}"
        )
    days: set[int] = set()
    for part in parts:
        if not isinstance(part, str):
            raise ConfigError(f"{where}: expected a weekday name, got {part!r}")
        lo, _, hi = part.lower().partition("-")
        if lo not in DAYS or (hi and hi not in DAYS):
            raise ConfigError(f"{where}: unknown weekday {part!r}; expected {', '.join(DAYS)}")
        a, b = DAYS.index(lo), DAYS.index(hi or lo)
        days.update(range(a, b + 1) if a <= b else [*range(a, 7), *range(0, b + 1)])
    return frozenset(days)


def parse_hours(value: object, where: str) -> tuple[tuple[time, time], ...]:
    """'09:00-18:00', a list of such ranges, or None (the whole day)."""
    if value is None:
        return ((time(0, 0), time(23, 59, 59, 999999)),)
    items = value if isinstance(value, list) else [value]
    out = []
    for item in items:
        m = _HOURS.match(item) if isinstance(item, str) else None
        if not m:
            raise ConfigError(f"{where}: expected hours such as 09:00-18:00, got {item!r}")
        h1, m1, h2, m2 = (int(g) for g in m.groups())
        if h1 > 23 or h2 > 24 or m1 > 59 or m2 > 59 or (h2 == 24 and m2):
            raise ConfigError(f"{where}: not a time of day in {item!r}")
        end = time(23, 59, 59, 999999) if h2 == 24 else time(h2, m2)
        if time(h1, m1) == end:
            raise ConfigError(f"{where}: empty range {item!r}")
        out.append((time(h1, m1), end))
    return tuple(out)


def parse_window(spec: dict[str, object], default_tz: ZoneInfo, where: str) -> Window:
    tz = parse_zone(spec["timezone"], f"{where}.timezone") if "timezone" in spec else default_tz
    return Window(
        days=parse_days(spec.get("days"), f"{where}.days"),
        ranges=parse_hours(spec.get("hours"), f"{where}.hours"),
        tz=tz,
    )


def parse_instant(value: object, tz: ZoneInfo, where: str) -> float:
    """An ISO 8601 date-time; without an offset it is read in ``tz``."""
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, str):
        try:
            dt = datetime.fromisoformat(value)
        except ValueError:
            dt = None
        if dt is None:
            raise ConfigError(f"{where}: expected an ISO date-time such as 2026-12-01T02:00")
    else:
        raise ConfigError(f"{where}: expected an ISO date-time such as 2026-12-01T02:00")
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=tz)
    return dt.timestamp()
