"""Active windows with an injected clock: across a time-zone date boundary and DST changes."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from gamsi.notifier.routing import Contact
from gamsi.notifier.schedule import parse_window


def at(text: str) -> float:
    """An instant written in UTC."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


SEOUL_OFFICE = parse_window(
    {"days": "mon-fri", "hours": "09:00-18:00"}, ZoneInfo("Asia/Seoul"), "t"
)


@pytest.mark.parametrize(
    ("utc", "active"),
    [
        ("2026-11-29T23:30", False),  # Sunday in UTC, Monday 08:30 in Seoul
        ("2026-11-30T00:00", True),  # Monday 09:00 Seoul: the window opens (inclusive)
        ("2026-11-30T08:59", True),  # Monday 17:59 Seoul
        ("2026-11-30T09:00", False),  # Monday 18:00 Seoul: closed (exclusive end)
        ("2026-12-04T08:00", True),  # Friday 17:00 Seoul
        ("2026-12-05T01:00", False),  # Saturday 10:00 in Seoul (Friday evening in UTC)
    ],
)
def test_weekday_hours_in_the_contacts_zone(utc: str, active: bool) -> None:
    assert SEOUL_OFFICE.active(at(utc)) is active


BERLIN_DAY = parse_window({"hours": "09:00-18:00"}, ZoneInfo("Europe/Berlin"), "t")


@pytest.mark.parametrize(
    ("utc", "active"),
    [
        ("2026-10-24T07:30", True),  # CEST (UTC+2): 09:30 local
        ("2026-10-26T07:30", False),  # CET (UTC+1) after the change: 08:30 local
        ("2026-10-26T08:00", True),  # 09:00 local
        ("2026-03-28T08:30", True),  # CET: 09:30 local
        ("2026-03-30T07:30", True),  # CEST after spring forward: 09:30 local
        ("2026-03-30T16:00", False),  # 18:00 local
    ],
)
def test_hours_follow_the_local_clock_through_dst(utc: str, active: bool) -> None:
    assert BERLIN_DAY.active(at(utc)) is active


NIGHT = parse_window({"days": "fri", "hours": "22:00-06:00"}, ZoneInfo("America/New_York"), "t")


@pytest.mark.parametrize(
    ("utc", "active"),
    [
        ("2026-10-31T01:30", False),  # Friday 21:30 EDT
        ("2026-10-31T02:30", True),  # Friday 22:30 EDT
        ("2026-10-31T09:30", True),  # Saturday 05:30 EDT: the night that began Friday
        ("2026-10-31T10:30", False),  # Saturday 06:30 EDT
        ("2026-11-07T03:30", True),  # Friday 22:30 EST, after DST ended on 1 November
        ("2026-11-07T10:30", True),  # Saturday 05:30 EST
        ("2026-11-07T11:30", False),  # Saturday 06:30 EST
    ],
)
def test_overnight_range_belongs_to_the_day_it_starts(utc: str, active: bool) -> None:
    assert NIGHT.active(at(utc)) is active


def test_contact_takes_only_its_severities_inside_its_window() -> None:
    sms = Contact("sms", "+82", SEOUL_OFFICE, frozenset({4, 5}))
    monday_office = at("2026-11-30T01:00")
    saturday = at("2026-12-05T01:00")
    assert sms.takes(4, monday_office)
    assert not sms.takes(3, monday_office)
    assert not sms.takes(5, saturday)
    assert Contact("slack", "#ops").takes(1, saturday)
