"""`gamsi notifier route-test` (issue 13 item 4): who would be told, on which channel, who
not and why — from the pipeline's own routing stages."""

from __future__ import annotations

from pathlib import Path

import pytest

from gamsi.cli import main
from gamsi.notifier.route_explain import explain, parse_at, probe_event, render
from gamsi.notifier.routing import load_routing
from gamsi.notifier.silences import new_silence

FULL = Path(__file__).resolve().parents[2] / "fixtures" / "notifier" / "routing_full.yaml"
SEOUL_TUE_03 = "2026-12-01 03:00 Asia/Seoul"
SEOUL_TUE_11 = "2026-12-01 11:00 Asia/Seoul"


def verdicts(at: str) -> set[tuple[str, ...]]:
    """(verdict, route, recipient, channel, reason up to its first colon) per line."""
    config = load_routing(FULL)
    event = probe_event("web-1", "urgent", item="cpu.util")
    report = explain(config, event, parse_at(at, config.timezone), [])
    return {
        (x.verdict, x.route, x.recipient, x.channel, x.reason.split(":")[0]) for x in report.lines
    }


def test_inside_the_sms_hours_alice_gets_an_sms() -> None:
    found = verdicts(SEOUL_TUE_11)
    assert ("told", "production", "alice", "sms", "") in found
    assert ("not told", "production", "bob", "push", "severity filter") in found
    assert ("no match", "db-fatal", "", "", "min_severity fatal") in found


def test_outside_the_sms_hours_it_says_why_not() -> None:
    found = verdicts(SEOUL_TUE_03)
    assert ("not told", "production", "alice", "sms", "out of hours") in found
    assert ("told", "production", "alice", "mail", "") in found
    assert not any(v == "fallback" for v, *_ in found)  # others are on duty


def test_a_silence_and_a_maintenance_window_suppress_and_are_named() -> None:
    config = load_routing(FULL)
    at = parse_at(SEOUL_TUE_11, config.timezone)
    s = new_silence({"hosts": ["web-*"]}, at - 60, 3600, "kim", "deploy")
    report = explain(config, probe_event("web-1", "urgent", item="cpu.util"), at, [s])
    told = [x for x in report.lines if x.verdict not in {"no match", "not told", "not tried"}]
    assert told
    assert all(x.verdict == "suppressed" for x in told)
    assert all(x.reason == s.describe() for x in told)
    assert report.told == []
    text = render(report, config.timezone)
    assert f"muted: silence {s.id[:8]} until" in text
    assert "by kim: deploy" in text
    maint = parse_at("2026-12-05 02:00 Asia/Seoul", config.timezone)  # db-01 disk swap
    report = explain(config, probe_event("db-01", "urgent", item="cpu.util"), maint, [])
    assert [m.text for m in report.mutes] == ["maintenance db-01 disk swap"]


def test_nobody_on_duty_shows_the_fallback(tmp_path: Path) -> None:
    routing = tmp_path / "routing.yaml"
    routing.write_text(
        "channels: {sms: {type: console}}\n"
        "recipients: {alice: {contacts: [{channel: sms, to: '1', hours: '09:00-18:00'}]}}\n"
        "routes: [{name: ops, recipients: [alice]}]\n"
    )
    config = load_routing(routing)
    night = parse_at("2026-12-01 03:00 UTC", config.timezone)
    report = explain(config, probe_event("web-1", "danger"), night, [])
    assert [(x.verdict, x.route, x.channel) for x in report.lines] == [
        ("not told", "ops", "sms"),
        ("fallback", "fallback", "console (the log)"),
    ]
    day = parse_at("2026-12-01 10:00 UTC", config.timezone)
    assert [x.verdict for x in explain(config, probe_event("web-1", "danger"), day, []).lines] == [
        "told"
    ]


def test_parse_at_reads_a_zone_an_offset_or_the_file_zone() -> None:
    from zoneinfo import ZoneInfo

    seoul = parse_at("2026-12-01 03:00 Asia/Seoul", ZoneInfo("UTC"))
    assert seoul == parse_at("2026-12-01T03:00+09:00", ZoneInfo("UTC"))
    assert seoul == parse_at("2026-12-01 03:00", ZoneInfo("Asia/Seoul"))
    from gamsi.settings import ConfigError

    with pytest.raises(ConfigError, match="--at: unknown time zone 'Mars/Base'"):
        parse_at("2026-12-01 03:00 Mars/Base", ZoneInfo("UTC"))
    with pytest.raises(ConfigError, match="--at: expected a date and time"):
        parse_at("tomorrow", ZoneInfo("UTC"))


def test_the_command_prints_the_verdicts_and_refuses_a_bad_severity(
    capsys: pytest.CaptureFixture[str],
) -> None:
    args = ["notifier", "route-test", "--routing", str(FULL), "--host", "web-1", "--no-silences"]
    assert main([*args, "--severity", "urgent", "--item", "cpu.util", "--at", SEOUL_TUE_03]) == 0
    out = capsys.readouterr().out
    assert "URGENT raise on web-1 item=cpu.util at 2026-12-01 03:00 Tue KST" in out
    assert "not told   route production: alice via sms +821012345678 — out of hours: mon-fri" in out
    assert main([*args, "--severity", "loud"]) == 2
    assert "--severity: unknown severity 'loud'" in capsys.readouterr().err


def test_route_test_without_a_routing_file_explains_the_built_in_route(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """No routing file: the notifier runs a built-in route (the console without a Slack
    token); route-test explains that one instead of refusing."""
    from gamsi.cli import main

    for name in ("GAMSI_NOTIFIER_ROUTING_FILE", "GAMSI_NOTIFIER_SLACK_TOKEN", "GAMSI_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    argv = ["notifier", "route-test", "--host", "web-1", "--severity", "urgent", "--no-silences"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "told" in out
    assert "via console" in out
