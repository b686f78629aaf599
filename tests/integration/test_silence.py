"""Silences on the real broker (issue 13 item 3): `gamsi silence add` → the notifier does not
send (the delivery is logged ``suppressed`` naming the silence); `gamsi silence expire` →
the next event is sent. The CLI runs as a subprocess, the notifier in this process."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import replace
from pathlib import Path

import orjson
import pytest

from gamsi.notifier.silence_store import active_silences
from gamsi.settings import Settings
from tests.integration.kafka_io import gamsi_cli, until, wait_for_records
from tests.integration.test_notifier_service import event, produce_events, running

ROUTING = """
channels: {out: {type: console, stream: log}}
recipients: {ops: {contacts: [{channel: out, to: ops}]}}
routes: [{name: all, recipients: [ops]}]
"""


def _settings(settings: Settings, unique: str, tmp_path: Path) -> Settings:
    routing = tmp_path / "routing.yaml"
    routing.write_text(ROUTING)
    n = replace(
        settings.notifier,
        silences_topic=f"t-{unique}.silences",
        routing_file=str(routing),
        storm_window=0.0,
    )
    return replace(settings, notifier=n)


async def _cli(settings: Settings, *args: str) -> tuple[int, str, str]:
    done = await asyncio.to_thread(gamsi_cli, settings, *args)
    return done.returncode, done.stdout, done.stderr


async def _deliveries(settings: Settings, count: int) -> list[dict]:
    topic = settings.notifier.delivery_topic
    return await wait_for_records(settings, topic, lambda r: len(r) >= count, orjson.loads)


async def test_silence_add_mutes_the_notifier_and_expire_lets_the_next_event_through(
    settings: Settings, unique: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    s = _settings(settings, unique, tmp_path)
    code, out, err = await _cli(
        s, "silence", "add", "--host", "web-*", "--for", "1h", "--comment", "deploy", "--by", "kim"
    )
    assert code == 0, err
    sid = out.strip()
    assert len(sid) == 32
    code, out, _ = await _cli(s, "silence", "list")
    assert out.startswith(sid[:8])
    assert "host=web-*" in out
    assert "kim: deploy" in out
    assert [x.id for x in await active_silences(s)] == [sid]

    caplog.set_level(logging.INFO, logger="gamsi.notifier.silence_store")
    async with running(s):
        await produce_events(s, event("web-01"), event("db-01"))
        first = {d["host"]: d for d in await _deliveries(s, 2)}
        assert first["db-01"]["result"] == "sent"
        assert first["web-01"]["result"] == "suppressed"
        assert first["web-01"]["error"].startswith(f"silence {sid[:8]} until ")
        assert first["web-01"]["error"].endswith(" by kim: deploy")

        code, out, err = await _cli(s, "silence", "expire", sid[:8])
        assert code == 0, err
        assert f"silence {sid[:8]} (host=web-*) expired" in out

        def ended() -> bool:
            return any(sid[:8] in r.getMessage() and "ended" in r.getMessage()
                       for r in caplog.records)  # fmt: skip

        async def seen() -> bool:
            return ended()

        await until(seen, "the notifier applied the expiry")
        await produce_events(s, event("web-01", n=1))
        later = await _deliveries(s, 3)  # two partitions: read order is not produce order
    assert [d["result"] for d in later if d["event_id"] == "web-01-cpu-raise-1"] == ["sent"]
    assert await active_silences(s) == []
    code, out, _ = await _cli(s, "silence", "list", "--all")
    assert "(ended)" in out


async def test_expire_of_an_unknown_id_is_one_line(settings: Settings, unique: str) -> None:
    s = replace(settings, notifier=replace(settings.notifier, silences_topic=f"t-{unique}.sil"))
    code, _, err = await _cli(s, "silence", "expire", "feedbeef")
    assert code == 2
    assert err.strip().splitlines() == [
        "gamsi: error: no silence with id 'feedbeef'; `gamsi silence list --all` shows ids"
    ]


async def test_silences_ended_beyond_the_retention_are_removed_by_the_next_add(
    settings: Settings, unique: str
) -> None:
    from gamsi.notifier.silence_store import publish_silence, read_silences
    from gamsi.notifier.silences import RETENTION, new_silence

    s = replace(settings, notifier=replace(settings.notifier, silences_topic=f"t-{unique}.sil"))
    old = new_silence({"hosts": ["old-*"]}, time.time() - RETENTION - 3600, 60, "kim", "old")
    recent = new_silence({"hosts": ["new-*"]}, time.time() - 3600, 60, "kim", "recent")
    for x in (old, recent):
        await publish_silence(s, x)
    assert set((await read_silences(s)).silences) == {recent.id}
    code, out, err = await _cli(s, "silence", "list", "--all")
    assert code == 0, err
    assert out.startswith(recent.id[:8])


async def test_every_silence_command_says_in_one_line_that_kafka_is_away(
    settings: Settings,
) -> None:
    from gamsi.kafka_errors import EXIT_UNREACHABLE

    away = replace(settings, kafka=replace(settings.kafka, bootstrap="127.0.0.1:1"))
    for args in (
        ("add", "--host", "db-*", "--for", "1h", "--comment", "x"),
        ("list",),
        ("expire", "abc"),
    ):
        code, _, err = await _cli(away, "silence", *args)
        assert code == EXIT_UNREACHABLE, args
        assert err.strip().splitlines() == [
            "gamsi: cannot reach Kafka at 127.0.0.1:1 — is gamsi up running?"
        ], args
