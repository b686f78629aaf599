"""The acknowledgement API over HTTP writes the same record as `gamsi ack`."""

from __future__ import annotations

import asyncio
import urllib.error
import urllib.request
from dataclasses import replace

import orjson
import pytest

from gamsi.notifier.ack import parse_ack
from gamsi.notifier.service import run_notifier
from gamsi.settings import Settings
from tests.integration.kafka_io import free_port, wait_for_records


def _post(url: str, body: bytes | None) -> tuple[int, dict]:
    request = urllib.request.Request(url, data=body, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            return resp.status, orjson.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, orjson.loads(exc.read())


async def _post_when_up(url: str, body: bytes | None) -> tuple[int, dict]:
    for _ in range(300):  # the service binds its port during start-up
        try:
            return await asyncio.to_thread(_post, url, body)
        except urllib.error.URLError:
            await asyncio.sleep(0.1)
    raise AssertionError(f"{url} never answered")


async def test_post_ack_records_who_and_why(settings: Settings, unique: str) -> None:
    port = free_port()
    settings = replace(settings, notifier=replace(settings.notifier, ack_port=port))
    stop = asyncio.Event()
    service = asyncio.create_task(run_notifier(settings, stop))
    try:
        base = f"http://127.0.0.1:{port}/ack"
        status, bad = await _post_when_up(f"{base}/e-{unique}", b"{not json")
        assert status == 400
        assert "expected JSON" in bad["error"]
        body = orjson.dumps({"by": "kim", "comment": "restarting nginx"})
        status, record = await _post_when_up(f"{base}/e-{unique}", body)
        assert status == 200
        assert (record["event_id"], record["by"], record["comment"]) == (
            f"e-{unique}",
            "kim",
            "restarting nginx",
        )
        acks = await wait_for_records(
            settings, settings.notifier.acks_topic, lambda got: len(got) >= 1, parse_ack
        )
    finally:
        stop.set()
        await service
    assert acks[0] is not None
    assert (acks[0]["event_id"], acks[0]["by"]) == (f"e-{unique}", "kim")


@pytest.mark.parametrize("body", [b'["a"]', b'{"by": 3}'])
async def test_post_ack_rejects_a_wrong_body(settings: Settings, body: bytes) -> None:
    from aiohttp.test_utils import TestClient, TestServer

    from gamsi.notifier.ack_api import build_app

    async with TestClient(TestServer(build_app(settings))) as client:
        resp = await client.post("/ack/x", data=body)
        assert resp.status == 400
        assert "expected" in (await resp.json())["error"]
