"""The readiness contract `gamsi up` waits on, against the real broker and real HTTP."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiohttp import web
from aiokafka import AIOKafkaConsumer

from gamsi.readiness import Probe, groups_stable, health_ok, pending
from gamsi.settings import Settings
from tests.integration.kafka_io import free_port


async def test_a_group_is_ready_only_once_a_member_has_joined(settings: Settings) -> None:
    group = f"{settings.streams.app_id}-probe"
    assert await groups_stable(settings, [group]) == {group: False}
    consumer = AIOKafkaConsumer(
        settings.kafka.events_topic, bootstrap_servers=settings.kafka.bootstrap, group_id=group
    )
    await consumer.start()
    try:
        for _ in range(150):  # the join completes in the background: bounded poll
            await consumer.getmany(timeout_ms=100)
            if (await groups_stable(settings, [group]))[group]:
                break
        else:
            pytest.fail(f"group {group} never reported Stable with a member")
        probe = Probe(group=lambda s: group)
        assert await pending(settings, probe) == []
    finally:
        await consumer.stop()


@pytest.mark.parametrize(
    ("status", "body", "ready"),
    [
        (200, {"status": "ok"}, True),
        (200, {"status": "ok", "ready": True}, True),
        (200, {"status": "ok", "ready": False}, False),  # the status page rebuilding
        (503, {"status": "unavailable", "ready": False}, False),
        (200, ["not", "an", "object"], False),
    ],
)
async def test_health_is_ready_only_on_status_ok(status: int, body: Any, ready: bool) -> None:
    async def health(request: web.Request) -> web.Response:
        return web.json_response(body, status=status)

    app = web.Application()
    app.router.add_get("/health", health)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        url = f"http://127.0.0.1:{port}/health"
        assert await asyncio.to_thread(health_ok, url) is ready
    finally:
        await runner.cleanup()


async def test_nothing_listening_is_not_ready_and_says_what_it_waits_for(
    settings: Settings,
) -> None:
    url = f"http://127.0.0.1:{free_port()}/health"
    assert await pending(settings, Probe(health=lambda s: (url, ""))) == [f"{url} not answering"]
