"""Settings: layered, strict, and every error names the file, the key and what was expected."""

from __future__ import annotations

from pathlib import Path

import pytest

from gamsi.settings import ConfigError, describe, load_settings

FIXTURES = Path(__file__).parent.parent / "fixtures" / "config"


def test_defaults_without_file_or_environment() -> None:
    s = load_settings(environ={})
    assert s.kafka.bootstrap == "127.0.0.1:9092"
    assert s.history_dsn() == f"chdb://{s.data_dir / 'chdb'}"


def test_file_then_environment_override() -> None:
    s = load_settings(FIXTURES / "valid.toml", environ={"GAMSI_KAFKA_PARTITIONS": "3"})
    assert s.kafka.bootstrap == "10.0.0.1:9092"
    assert s.kafka.partitions == 3  # the environment wins over the file
    assert s.collector.interval == 1.0
    assert s.collector.tags == ["web", "prod"]


def test_environment_lists_are_comma_separated() -> None:
    s = load_settings(environ={"GAMSI_COLLECTOR_TAGS": "db, prod"})
    assert s.collector.tags == ["db", "prod"]


@pytest.mark.parametrize(
    ("fixture", "expected"),
    [
        ("unknown_key.toml", r"\[kafka\] bootstrp: unknown key; expected one of .*'bootstrap'"),
        ("unknown_section.toml", r"unknown section \[kafak\]; expected one of .*'kafka'"),
        ("wrong_type.toml", r"\[kafka\] partitions: expected int, got 'six'"),
        ("interval_too_small.toml", r"\[collector\] interval: expected at least 1.0 s, got 0.5"),
        ("not_toml.toml", r"not_toml.toml:1: expected valid TOML \("),
        ("duplicate_key.toml", r"duplicate_key.toml:4: expected valid TOML \(Cannot overwrite"),
        ("tags_not_list.toml", r"\[collector\] tags: expected a list of strings"),
    ],
)
def test_invalid_files_name_file_key_and_expectation(fixture: str, expected: str) -> None:
    with pytest.raises(ConfigError, match=expected) as info:
        load_settings(FIXTURES / fixture, environ={})
    assert str(info.value).startswith(str(FIXTURES / fixture))


def test_missing_file() -> None:
    with pytest.raises(ConfigError, match="no such configuration file"):
        load_settings(FIXTURES / "absent.toml", environ={})


def test_bad_environment_value_names_the_source() -> None:
    with pytest.raises(ConfigError, match=r"environment: \[kafka\] partitions: expected int"):
        load_settings(environ={"GAMSI_KAFKA_PARTITIONS": "many"})


def test_secrets_are_masked_and_read_from_files(tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("xoxb-from-file\n")
    s = load_settings(environ={"GAMSI_NOTIFIER_SLACK_TOKEN_FILE": str(token_file)})
    assert s.notifier.resolved_slack_token() == "xoxb-from-file"
    s = load_settings(environ={"GAMSI_NOTIFIER_SLACK_TOKEN": "xoxb-secret"})
    shown = {(sec, key): value for sec, key, value, _ in describe(s)}
    assert shown[("notifier", "slack_token")] == "***"
    assert "xoxb-secret" not in repr(describe(s))


def test_unreadable_token_file_error_has_no_secret(tmp_path: Path) -> None:
    s = load_settings(environ={"GAMSI_NOTIFIER_SLACK_TOKEN_FILE": str(tmp_path / "none")})
    with pytest.raises(
        ConfigError, match=r"slack_token_file: cannot read a secret from .*none: FileNotFoundError"
    ):
        s.notifier.resolved_slack_token()


def test_every_setting_is_documented() -> None:
    assert all(help_ for _, _, _, help_ in describe(load_settings(environ={})))


def test_a_misspelt_environment_variable_is_an_error_not_ignored() -> None:
    """As strict as the file: a typo in a variable is an outage nobody notices."""
    with pytest.raises(ConfigError) as err:
        load_settings(environ={"GAMSI_COLLECTOR_INTERVALL": "3"})
    assert str(err.value) == (
        "environment: GAMSI_COLLECTOR_INTERVALL: no such setting in [collector]; "
        "did you mean GAMSI_COLLECTOR_INTERVAL?"
    )
    # variables of no section are not settings: left alone
    assert load_settings(environ={"GAMSI_CONFIG_DIR": "x", "GAMSI_TEST_BOOTSTRAP": "y"})
