"""Silences (issue 13 item 3): the model, the record, and the pipeline honouring a silence
on every path that sends, with the rules of maintenance (one mute mechanism).

The clock starts at 2027-01-15 08:00 UTC (a Friday).
"""

from __future__ import annotations

import orjson
import pytest

from gamsi.notifier.mute import muted_by
from gamsi.notifier.silences import (
    Silence,
    SilenceBook,
    SilenceError,
    expired,
    new_silence,
    parse_silence,
)

from .conftest import Harness, event
from .test_told import MAINTENANCE, failed_run, kinds, run_until

MINUTE = 60.0
T = 1_800_000_000.0

ROUTING = MAINTENANCE.split("maintenance:")[0]
"""test_told's routing (a route with re-notification and an escalation step), no window."""


def silence(start: float = T, minutes: float = 120, **matchers: list[str]) -> Silence:
    return new_silence(matchers or {"hosts": ["db-*"]}, start, minutes * MINUTE, "kim", "swap")


# -- the model ---------------------------------------------------------------------


def test_every_matcher_must_hold_and_any_glob_of_one() -> None:
    s = silence(hosts=["db-*", "cache-1"], items=["cpu.*"])
    assert s.covers(event("db-7"), T)
    assert s.covers(event("cache-1"), T)
    assert not s.covers(event("db-7", item="disk.used_pct"), T)  # the item matcher fails
    assert not s.covers(event("web-1"), T)
    assert not s.covers(event("db-7"), T + 121 * MINUTE)  # over
    assert not s.covers(event("db-7"), T - 1)  # not yet
    tagged = silence(tags=["patch-a"])
    assert tagged.covers(event("x", tags=["prod", "patch-a"]), T)
    assert not tagged.covers(event("x", tags=["prod"]), T)


@pytest.mark.parametrize(
    ("matchers", "minutes", "expected"),
    [
        ({}, 60, "at least one of --host"),
        ({"hosts": [""]}, 60, "non-empty globs"),
        ({"hosts": ["db-*"]}, 0, "between 1s and 366d"),
        ({"hosts": ["db-*"]}, 367 * 1440, r"between 1s and 366d, got 367d"),
    ],
)
def test_a_silence_that_cannot_be_made_says_why(
    matchers: dict[str, list[str]], minutes: float, expected: str
) -> None:
    with pytest.raises(SilenceError, match=expected):
        new_silence(matchers, T, minutes * MINUTE, "kim", "")


def test_a_silence_says_why_and_names_its_matchers_as_written() -> None:
    with pytest.raises(SilenceError, match="--comment"):
        new_silence({"hosts": ["db-*"]}, T, 60 * MINUTE, "kim", "  ")
    s = new_silence({"hosts": ["db-*"], "watches": ["disk-space"]}, T, MINUTE, "kim", "swap")
    assert s.matchers_text() == "host=db-* watch=disk-space"  # not "watche="


def test_the_record_round_trips_and_junk_is_refused() -> None:
    s = silence(hosts=["db-*"], watches=["disk-space"])
    assert parse_silence(orjson.dumps(s.to_record())) == s
    record = s.to_record()
    for bad in (
        b"not json",
        b"[]",
        orjson.dumps({**record, "kind": "ack"}),
        orjson.dumps({**record, "matchers": {}}),  # would silence everything
        orjson.dumps({**record, "matchers": {"hosts": [1]}}),
        orjson.dumps({**record, "matchers": {"colour": ["red"]}}),
        orjson.dumps({**record, "ends": True}),
        orjson.dumps({**record, "id": ""}),
    ):
        assert parse_silence(bad) is None, bad


def test_expire_replaces_the_silence_and_a_tombstone_removes_it() -> None:
    book = SilenceBook()
    s = silence()
    book.apply(s.id, orjson.dumps(s.to_record()))
    assert book.covering(event("db-1"), T + 5) == s
    ended = expired(s, T + 10, "lee")
    book.apply(s.id, orjson.dumps(ended.to_record()))
    assert book.covering(event("db-1"), T + 10) is None
    assert book.find(s.id[:8]).expired_by == "lee"
    book.apply(s.id, None)
    with pytest.raises(SilenceError, match="no silence"):
        book.find(s.id[:8])


def test_maintenance_and_silence_are_one_mechanism() -> None:
    h = Harness(ROUTING + "maintenance: [{name: patch, hosts: [web-1], days: all}]\n")
    book = SilenceBook()
    book.add(silence())
    by_window = muted_by(h.config, event("web-1"), T, book)
    by_silence = muted_by(h.config, event("db-1"), T, book)
    assert by_window is not None
    assert by_window.text == "maintenance patch"
    assert by_silence is not None
    assert by_silence.kind == "silence"
    assert by_silence.text.endswith("until 2027-01-15 10:00 UTC by kim: swap")
    assert muted_by(h.config, event("api-1"), T, book) is None


# -- every path that sends ------------------------------------------------------------


async def test_a_silenced_raise_is_suppressed_and_logged_with_the_silence() -> None:
    h = Harness(ROUTING)
    s = silence()
    h.pipeline.silences.add(s)
    await h.push(event("db-1"), event("web-1"))
    assert [[e.host for e in m.events] for m in h.sent("slack")] == [["web-1"]]
    (suppressed,) = [r for r in h.sink.records if r["result"] == "suppressed"]
    assert suppressed["host"] == "db-1"
    assert suppressed["error"] == f"silence {s.id[:8]} until 2027-01-15 10:00 UTC by kim: swap"


async def test_a_silenced_escalation_event_is_suppressed() -> None:
    h = Harness(ROUTING)
    await h.push(event("db-1", severity=3))
    h.pipeline.silences.add(silence(start=h.clock.now + 1))
    h.clock.now += 2
    await h.push(event("db-1", "escalate", severity=5, eid="up"))
    assert kinds(h, "slack") == ["raise"]
    assert [r["result"] for r in h.sink.records if r["event_id"] == "up"] == ["suppressed"]


async def test_no_renotification_or_escalation_step_while_silenced_then_they_resume() -> None:
    h = Harness(ROUTING)
    await h.push(event("db-1"))
    await run_until(h, 14)
    assert kinds(h, "slack") == ["raise", "renotify"]
    s = silence(start=h.clock.now, minutes=120)
    h.pipeline.silences.add(s)
    await run_until(h, 60)  # +20, +30 (and the escalation step), +40, +50, +60 silenced
    assert kinds(h, "slack") == ["raise", "renotify"]
    assert kinds(h, "mail") == []
    muted = {r["transition"] for r in h.sink.records if r["result"] == "suppressed"}
    assert muted == {"renotify", "escalation"}
    h.pipeline.silences.add(expired(s, h.clock.now, "kim"))  # `gamsi silence expire`
    await h.advance(MINUTE)
    assert kinds(h, "slack") == ["raise", "renotify", "renotify"]
    assert kinds(h, "mail") == ["escalation", "renotify"]


async def test_a_recovery_held_by_a_silence_goes_out_when_it_is_expired() -> None:
    h = Harness(ROUTING.replace("renotify_every: 10m", "renotify_every: 0"))
    await h.push(event("db-1"))  # told at T
    s = silence(start=h.clock.now + 1, minutes=600)
    h.pipeline.silences.add(s)
    h.clock.now += 5 * MINUTE
    await h.push(event("db-1", "recover"))
    assert kinds(h, "slack") == ["raise"]
    (held,) = [r for r in h.sink.records if r["result"] == "suppressed"]
    assert held["error"].endswith("; held until it ends")
    await h.advance(MINUTE)
    assert kinds(h, "slack") == ["raise"]
    h.pipeline = h.build()  # a restart: the held recovery comes back from the ledger
    h.pipeline.silences.add(s)  # and the silence from its topic
    await h.advance(MINUTE)
    assert kinds(h, "slack") == ["raise"]
    h.pipeline.silences.add(expired(s, h.clock.now, "kim"))
    await h.advance(1)
    assert kinds(h, "slack") == ["raise", "recover"]
    recovery = h.sent("slack")[-1]
    assert recovery.thread_ref == "ts-1"
    assert f"Held back during silence {s.id[:8]} until " in recovery.text()
    assert recovery.text().count("by kim: swap.") == 1


async def test_a_failed_recovery_script_does_not_page_while_silenced() -> None:
    h = Harness(ROUTING)
    await h.push(event("db-1", ts=h.clock.now))
    h.pipeline.silences.add(silence(start=h.clock.now))
    h.clock.now += 60
    assert h.pipeline.remediation(failed_run(h.clock.now), h.clock.now) == 0
    await h.advance(1)
    assert kinds(h, "slack") == ["raise"]
    remediation = [r for r in h.sink.records if r["transition"] == "remediation"]
    assert [r["result"] for r in remediation] == ["suppressed"]
    assert remediation[0]["error"].startswith("silence ")


def test_the_remediator_skips_what_a_silence_covers() -> None:
    from dataclasses import replace

    from gamsi.remediator.service import maintenance_check
    from gamsi.settings import load_settings

    settings = load_settings(environ={})
    settings = replace(settings, notifier=replace(settings.notifier, routing_file=""))
    book = SilenceBook()
    check = maintenance_check(settings, book)
    assert check(event("db-1"), T) is None
    book.add(silence())
    assert (check(event("db-1"), T) or "").startswith("silence ")
    assert check(event("web-1"), T) is None


def test_an_ended_silence_is_kept_for_the_retention_and_a_flood_is_bounded() -> None:
    from gamsi.notifier import silences as S

    book = SilenceBook()
    ended = expired(silence(), T + 60, "kim")
    book.add(ended)
    assert book.stale(T + 60 + S.RETENTION - 1) == []
    assert book.stale(T + 61 + S.RETENTION) == [ended.id]
    flood = SilenceBook()
    for i in range(S.MAX_SILENCES + 5):
        s = silence(hosts=[f"h-{i}"])
        flood.apply(s.id, orjson.dumps(s.to_record()))
    assert len(flood.silences) == S.MAX_SILENCES


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--for", "2h"], "expected at least one of --host, --watch, --item, --tag"),
        (["--host", "db-*", "--for", "soon"], "--for: expected a duration like 30s"),
        (["--host", "db-*", "--for", "0"], "expected --for between 1s and 366d"),
    ],
)
def test_silence_add_refuses_bad_options_before_any_kafka(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from gamsi.cli import main

    assert main(["silence", "add", "--comment", "x", *args]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith(f"gamsi: error: {message}")
