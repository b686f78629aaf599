"""`gamsi web run` as its own process: it serves, rebuilds the same picture after a
restart (from the events and acks topics; history is not running here), and stops
cleanly on SIGTERM, as systemd and `gamsi up` stop it."""

from __future__ import annotations

import asyncio
import signal
import time
import urllib.error
import urllib.request
from dataclasses import replace
from pathlib import Path
from typing import Any

import orjson

from gamsi.schemas import encode
from gamsi.schemas.records import SeverityEvent
from gamsi.settings import Settings
from tests.integration.kafka_io import free_port, gamsi_service, produce

TOKEN = "service-test-token-77aa"


def _get(url: str, token: str = "") -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=5) as r:
            return r.status, orjson.loads(r.read())
    except urllib.error.HTTPError as exc:
        return exc.code, orjson.loads(exc.read() or b"{}")


async def _cells(base: str, within: float = 60) -> dict[str, Any]:
    """The picture once the service answers ready (bounded)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            status, body = await asyncio.to_thread(_get, base + "/api/cells", TOKEN)
        except OSError:  # not listening yet
            status, body = 0, {}
        if status == 200:
            return body  # type: ignore[no-any-return]
        await asyncio.sleep(0.2)
    raise AssertionError(f"the status page did not answer within {within} s")


def _event(host: str, sev: int, n: int) -> SeverityEvent:
    ts = time.time()
    return SeverityEvent(
        event_id=f"{host}-{n}", host=host, item="cpu.util", instance="", watch="cpu",
        severity=sev, previous=0, transition="raise", value=95.0, threshold=90.0, ts=ts,
        since=ts, emitted_at=ts,
    )  # fmt: skip


async def test_web_run_rebuilds_the_same_picture_after_a_restart_and_stops_on_sigterm(
    settings: Settings, tmp_path: Path, unique: str
) -> None:
    settings = replace(
        settings,
        history=replace(settings.history, query_port=0),
        web=replace(settings.web, port=free_port(), token=TOKEN),
    )
    base = f"http://127.0.0.1:{settings.web.port}"
    a, b = f"svc-a-{unique}", f"svc-b-{unique}"
    topic = settings.kafka.events_topic
    await produce(settings, topic, [(a.encode(), encode(_event(a, 4, 1)))])
    with gamsi_service(settings, "web", "run", log=tmp_path / "web-1.log") as proc:
        first = await _cells(base)
        status, _ = await asyncio.to_thread(_get, base + "/api/cells")
        assert status == 401  # a token is configured: no view without it
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(proc.wait, 30) == 0
    await produce(settings, topic, [(b.encode(), encode(_event(b, 3, 1)))])
    with gamsi_service(settings, "web", "run", log=tmp_path / "web-2.log"):
        second = await _cells(base)
    levels = {(c[0], c[3]) for c in first["cells"]}
    assert levels == {(a, 4)}
    assert {(c[0], c[3]) for c in second["cells"]} == {(a, 4), (b, 3)}
    assert second["counts"]["urgent"] == 1
    assert second["counts"]["danger"] == 1
