"""The routing file: the full example loads; every invalid case names file, key and expectation."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from gamsi.notifier.routing import load_routing
from gamsi.notifier.secrets import Secrets
from gamsi.notifier.service import build_channels
from gamsi.settings import ConfigError, Settings

FIXTURES = Path(__file__).parents[2] / "fixtures" / "notifier"
FULL = FIXTURES / "routing_full.yaml"
ENV = {
    "GAMSI_SLACK_TOKEN": "xoxb-1",
    "TWILIO_AUTH_TOKEN": "t",
    "NHN_SECRET_KEY": "n",
    "HOOK_AUTH": "Bearer h",
}


def test_full_example_loads() -> None:
    config = load_routing(FULL)
    assert set(config.channels) == {
        "slack-ops", "mail", "sms", "sms-kr", "kakao", "push", "hook", "console",
    }  # fmt: skip
    assert [r.name for r in config.routes] == ["db-fatal", "production", "everything-else"]
    production = config.routes[1]
    assert production.renotify_every == 1800
    assert production.group_window == 10
    assert production.escalations[0].after == 900
    assert config.recipients["ops-team"].members == ("alice", "bob")
    sms = config.recipients["alice"].contacts[1]
    assert sms.severities == {4, 5}
    assert config.routes[2].notify_recovery is False
    assert config.maintenance[1].end - config.maintenance[1].start == 7200


def test_full_example_builds_every_channel(tmp_path: Path) -> None:
    password = tmp_path / "smtp-password"
    password.write_text("p\n")
    copy = tmp_path / "routing.yaml"
    copy.write_text(FULL.read_text().replace("/etc/gamsi/smtp-password", str(password)))
    channels, limiters = build_channels(load_routing(copy), Settings(), Secrets(ENV))
    assert {type(c).__name__ for c in channels.values()} == {
        "SlackChannel", "EmailChannel", "SmsChannel", "KakaoChannel", "NtfyChannel",
        "WebhookChannel", "ConsoleChannel",
    }  # fmt: skip
    assert limiters["slack-ops"].rate == 1


INVALID = [
    ("unknown_top_key.yaml", ["unknown key 'route'", "expected one of", "routes"]),
    ("unknown_route_key.yaml", ["routes[0]", "'renotfy_every'", "renotify_every"]),
    ("unknown_recipient.yaml", ["routes[0].recipients", "'nobody'", "expected one of a"]),
    ("unknown_channel.yaml", ["recipients.a.contacts[0].channel", "'slak'", "expected one of c"]),
    ("bad_severity.yaml", ["routes[0].match.min_severity", "'critical'", "urgent"]),
    ("bad_hours.yaml", ["contacts[0].hours", "09:00-18:00", "'9 to 5'"]),
    ("bad_timezone.yaml", ["recipients.a.timezone", "'Korea/Seoul'", "IANA"]),
    ("bad_days.yaml", ["contacts[0].days", "'mon-fry'", "mon, tue"]),
    ("bad_duration.yaml", [":6: routes[0].renotify_every", "'soon'", "30s, 5m"]),
    ("inline_secret.yaml", ["channels.s", "token", "token_env", "token_file"]),
    ("maintenance_no_scope.yaml", ["maintenance[0]", "hosts or tags"]),
    ("maintenance_end_before_start.yaml", ["maintenance[0].end", "after start"]),
    ("duplicate_route.yaml", ["routes[1].name", "duplicate", "'r'"]),
    ("not_yaml.yaml", [":3: expected valid YAML", "mapping values are not allowed"]),
    ("duplicate_key.yaml", [":7: routes[0].match.hosts", "this key is given twice"]),
    ("two_documents.yaml", [":5: expected one YAML document, found 2"]),
    ("unknown_channel_type.yaml", ["channels.c.type", "'pager'", "slack"]),
    ("sms_unknown_preset.yaml", ["channels.c", "preset", "'twillio'", "twilio, vonage"]),
]


@pytest.mark.parametrize(("name", "fragments"), INVALID)
def test_invalid_file_names_file_key_and_expectation(name: str, fragments: list[str]) -> None:
    path = FIXTURES / "invalid" / name
    with pytest.raises(ConfigError) as info:
        build_channels(load_routing(path), Settings(), Secrets(ENV))
    message = str(info.value)
    assert message.startswith(str(path))
    for fragment in fragments:
        assert fragment in message


def test_inline_secret_value_is_not_echoed() -> None:
    with pytest.raises(ConfigError) as info:
        build_channels(
            load_routing(FIXTURES / "invalid" / "inline_secret.yaml"), Settings(), Secrets(ENV)
        )
    assert "xoxb-do-not-put-me-here" not in str(info.value)


def test_every_invalid_fixture_is_tested() -> None:
    files = {p.name for p in (FIXTURES / "invalid").glob("*.yaml")}
    assert files == {name for name, _ in INVALID}


@pytest.mark.parametrize(
    ("name", "line"),
    [("bad_days.yaml", 6), ("unknown_recipient.yaml", 5), ("maintenance_no_scope.yaml", 2)],
)
def test_errors_name_the_line_of_the_key(name: str, line: int) -> None:
    path = FIXTURES / "invalid" / name
    with pytest.raises(ConfigError, match=rf"^{re.escape(str(path))}:{line}: "):
        load_routing(path)


def test_missing_file() -> None:
    with pytest.raises(ConfigError, match="no such routing file"):
        load_routing(FIXTURES / "nope.yaml")
