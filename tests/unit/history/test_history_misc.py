"""Small pure pieces: settings, topic choice, DSN masking, report windows, the table printer."""

from __future__ import annotations

from dataclasses import replace

import pytest

from gamsi.history.cli import format_table
from gamsi.history.reports import Window, quote
from gamsi.history.schema import ddl
from gamsi.history.store import masked
from gamsi.settings import ConfigError, load_settings
from gamsi.topics import deliveries_topic, topic_specs


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("BATCH_ROWS", "0", "[history] batch_rows: expected at least 1, got 0"),
        ("RAW_TTL_DAYS", "0", "[history] raw_ttl_days: expected at least 1"),
        ("FLUSH_INTERVAL", "0", "[history] flush_interval: expected seconds > 0"),
        ("QUERY_PORT", "70000", "[history] query_port: expected 1..65535"),
    ],
)
def test_history_settings_are_validated(key: str, value: str, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_settings(environ={f"GAMSI_HISTORY_{key}": value})
    assert message in str(err.value)
    assert str(err.value).startswith("environment")


def test_deliveries_topic_prefers_history_then_notifier_then_default() -> None:
    s = load_settings(environ={})
    expected = getattr(s.notifier, "delivery_topic", "") or "gamsi.deliveries"
    assert deliveries_topic(s) == expected
    own = replace(s, history=replace(s.history, deliveries_topic="x.deliveries"))
    assert deliveries_topic(own) == "x.deliveries"
    assert "x.deliveries" in [t.name for t in topic_specs(own)]


def test_dsn_password_never_shown() -> None:
    assert masked("http://default:s3cret@ch:8123/db") == "http://default:***@ch:8123/db"
    assert masked("chdb:///var/lib/gamsi/chdb") == "chdb:///var/lib/gamsi/chdb"


def test_ttls_are_in_the_ddl() -> None:
    text = "\n".join(ddl(7, 90))
    assert "TTL toDateTime(ts) + INTERVAL 7 DAY" in text
    assert "TTL minute + INTERVAL 90 DAY" in text
    assert "ReplacingMergeTree" in text


def test_window_and_quote() -> None:
    w = Window.last(2, now=10_000.0)
    assert (w.start_ms, w.end_ms, w.seconds) == (2_800_000, 10_000_000, 7200.0)
    with pytest.raises(ValueError, match="hours: expected a positive number"):
        Window.last(0)
    assert quote("it's \\ ok") == "'it\\'s \\\\ ok'"


def test_format_table_aligns_numbers_right() -> None:
    text = format_table(["host", "avg"], [["web-1", 9.5], ["db", 100.0]])
    assert text.splitlines() == [
        "host   avg",
        "-----  ---",
        "web-1  9.5",
        "db     100",
        "(2 rows)",
    ]


def test_a_server_store_config_error_is_fatal_not_retried(monkeypatch: pytest.MonkeyPatch) -> None:
    """A ClickHouse server that does not answer is retried; a ConfigError (waiting cannot
    fix it) ends the writer at once, so `gamsi history run` exits 78 with its one line."""
    import asyncio

    from gamsi.history import service

    calls: list[int] = []

    def refuse(settings: object) -> None:
        calls.append(1)
        raise ConfigError("[history] cluster: the database already holds single-node tables")

    monkeypatch.setattr(service, "open_store", refuse)
    s = load_settings(environ={"GAMSI_HISTORY_DSN": "http://127.0.0.1:9/gamsi"})

    async def run() -> None:
        await asyncio.wait_for(service._open_store(s, asyncio.Event()), 10)

    with pytest.raises(ConfigError, match="single-node tables"):
        asyncio.run(run())
    assert calls == [1]
