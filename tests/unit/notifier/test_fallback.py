"""Nobody is left unpaged in silence (issue 13 item 5): an event that matches routes and
reaches no contact is logged ``no_contact`` and goes to ``defaults.fallback`` (or, without
one, to the log console). The clock starts at 2027-01-15 08:00 UTC (a Friday)."""

from __future__ import annotations

import logging

import pytest

from gamsi.notifier.route import FALLBACK_CHANNEL, FALLBACK_ROUTE

from .conftest import Harness, event

T = 1_800_000_000.0
OFFICE = """
channels: {sms: {type: console}, pager: {type: console}}
recipients:
  alice:
    contacts: [{channel: sms, to: "+8210", hours: "09:00-18:00", timezone: UTC}]
  oncall:
    contacts: [{channel: pager, to: duty, hours: "20:00-21:00", severities: [fatal]}]
routes:
  - {name: ops, match: {min_severity: caution}, recipients: [alice]}
"""
WITH_FALLBACK = OFFICE.replace("channels:", "defaults: {fallback: [oncall]}\nchannels:", 1)


def results(h: Harness) -> list[tuple[str, str, str]]:
    return [(r["route"], r["channel"], r["result"]) for r in h.sink.records]


async def test_out_of_hours_is_logged_no_contact_and_goes_to_the_log_console(
    caplog: pytest.LogCaptureFixture,
) -> None:
    h = Harness(OFFICE)
    with caplog.at_level(logging.WARNING, logger="gamsi.notifier.console"):
        await h.push(event("web-1"))  # 08:00 UTC: alice is off duty
    assert h.sent("sms") == []
    assert results(h) == [("ops", "", "no_contact"), (FALLBACK_ROUTE, FALLBACK_CHANNEL, "sent")]
    missed = h.sink.records[0]
    assert missed["recipient"] == "alice"
    assert "alice sms: out of hours: every day 09:00-18:00 UTC" in missed["error"]
    assert any("[URGENT" in r.getMessage() and "web-1" in r.getMessage() for r in caplog.records)


async def test_defaults_fallback_hears_it_whatever_its_hours_and_then_its_recovery() -> None:
    h = Harness(WITH_FALLBACK)
    await h.push(event("web-1", severity=4))  # pager: 20-21 h and fatal only; still told
    assert [m.kind for m in h.sent("pager")] == ["raise"]
    assert results(h) == [("ops", "", "no_contact"), (FALLBACK_ROUTE, "pager", "sent")]
    h.clock.now = T + 3 * 3600  # 11:00: alice is on duty now, but never heard of it
    await h.push(event("web-1", "recover"))
    assert [m.kind for m in h.sent("pager")] == ["raise", "recover"]
    assert h.sent("sms") == []


async def test_no_fallback_when_a_contact_takes_it_or_no_route_matches() -> None:
    h = Harness(WITH_FALLBACK)
    h.clock.now = T + 2 * 3600  # 10:00: alice is on duty
    await h.push(event("web-1"))
    await h.push(event("web-2", severity=1))  # harmless: no route takes it at all
    assert [m.kind for m in h.sent("sms")] == ["raise"]
    assert h.sent("pager") == []
    assert results(h) == [("ops", "sms", "sent")]


async def test_a_muted_event_is_not_paged_through_the_fallback_either() -> None:
    h = Harness(WITH_FALLBACK + "maintenance: [{name: patch, hosts: ['web-*'], days: all}]\n")
    await h.push(event("web-1"))
    assert h.sent("pager") == []
    assert results(h) == [("ops", "", "no_contact"), (FALLBACK_ROUTE, "pager", "suppressed")]


def test_the_fallback_names_known_recipients() -> None:
    from gamsi.settings import ConfigError

    with pytest.raises(ConfigError, match=r"defaults.fallback: unknown recipient 'nobody'"):
        Harness(OFFICE.replace("channels:", "defaults: {fallback: [nobody]}\nchannels:", 1))
