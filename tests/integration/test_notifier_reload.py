"""Reloading the routing file of a running notifier (issue 13 item 3), as a real process on
the real broker: a good file is taken on `gamsi notifier reload` (SIGHUP); a bad one is
refused by `gamsi notifier reload` before any signal, and on a raw SIGHUP the notifier
logs one line naming the file and line and keeps the routing in force."""

from __future__ import annotations

import asyncio
import os
import signal
from dataclasses import replace
from pathlib import Path

import orjson

from gamsi.settings import Settings
from tests.integration.kafka_io import gamsi_cli, gamsi_service, until, wait_for_records
from tests.integration.test_notifier_service import event, produce_events

ROUTING = """
channels: {out: {type: console, stream: log}}
recipients: {ops: {contacts: [{channel: out, to: ops}]}}
routes: [{name: ROUTE, recipients: [ops]}]
"""


def _text(log: Path) -> str:
    return log.read_text(errors="replace")


async def _lines(log: Path, text: str, count: int, proc: object) -> None:
    async def enough() -> bool:
        assert proc.poll() is None, _text(log)[-3000:]  # type: ignore[attr-defined]
        return _text(log).count(text) >= count

    await until(enough, f"{count} × {text!r} in the notifier's log", within=90)


async def _route_of(settings: Settings, event_id: str) -> str:
    topic = settings.notifier.delivery_topic

    def found(records: list[dict]) -> bool:
        return any(r["event_id"] == event_id for r in records)

    records = await wait_for_records(settings, topic, found, orjson.loads)
    (record,) = [r for r in records if r["event_id"] == event_id]
    assert record["result"] == "sent"
    return str(record["route"])


async def test_sighup_takes_a_good_routing_file_and_keeps_the_old_one_for_a_bad_one(
    settings: Settings, unique: str, tmp_path: Path
) -> None:
    routing = tmp_path / "routing.yaml"
    routing.write_text(ROUTING.replace("ROUTE", "first"))
    s = replace(
        settings,
        notifier=replace(
            settings.notifier,
            routing_file=str(routing),
            silences_topic=f"t-{unique}.silences",
            storm_window=0.0,
        ),
    )
    log = tmp_path / "notifier.log"
    with gamsi_service(s, "notifier", "run", log=log) as proc:
        await _lines(log, "notifier consuming", 1, proc)
        assert (s.data_dir / "notifier.pid").read_text().strip() == str(proc.pid)
        await produce_events(s, event("web-01", n=1))
        assert await _route_of(s, "web-01-cpu-raise-1") == "first"

        routing.write_text(ROUTING.replace("ROUTE", "second"))
        done = await asyncio.to_thread(gamsi_cli, s, "notifier", "reload")
        assert done.returncode == 0, done.stderr
        assert f"(pid {proc.pid}) reloads it" in done.stdout
        await _lines(log, "notifier consuming", 2, proc)
        await produce_events(s, event("web-01", n=2))
        assert await _route_of(s, "web-01-cpu-raise-2") == "second"

        routing.write_text(ROUTING.replace("ROUTE", "third").replace("recipients: [ops]", "to: x"))
        done = await asyncio.to_thread(gamsi_cli, s, "notifier", "reload")
        assert done.returncode != 0
        assert done.stderr.strip().splitlines() == [
            f"gamsi: error: {routing}:4: routes[0]: unknown key 'to'; expected one of "
            "escalate, group_window, match, name, notify_recovery, recipients, renotify_every, "
            "stop"
        ]
        os.kill(proc.pid, signal.SIGHUP)  # as `systemctl reload` would, unchecked
        await _lines(log, "reload failed, keeping the running configuration", 1, proc)
        await _lines(log, "notifier consuming", 3, proc)
        failed = [x for x in _text(log).splitlines() if "reload failed" in x]
        assert len(failed) == 1
        assert f"{routing}:4: routes[0]: unknown key 'to'" in failed[0]
        await produce_events(s, event("web-01", n=3))
        assert await _route_of(s, "web-01-cpu-raise-3") == "second"
    assert not (s.data_dir / "notifier.pid").exists()


async def test_reload_without_a_running_notifier_is_one_line(
    settings: Settings, tmp_path: Path
) -> None:
    routing = tmp_path / "routing.yaml"
    routing.write_text(ROUTING.replace("ROUTE", "r"))
    s = replace(settings, notifier=replace(settings.notifier, routing_file=str(routing)))
    done = await asyncio.to_thread(gamsi_cli, s, "notifier", "reload")
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"gamsi: error: no running notifier (no live pid in {s.data_dir / 'notifier.pid'})"
    ]
