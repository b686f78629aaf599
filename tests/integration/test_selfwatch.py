"""A pipeline problem is a problem too (issue 13 item 6), on real brokers.

* The broker of this test's own, stopped under a running notifier: the webhook hears one
  "Kafka unreachable" message after the bound, and one recovery once it is back — sent
  straight through the channel, since Kafka is what is down.
* The consumer groups of the other services, on the shared broker: a group that ran and
  has no member is a service down; a group that lags past the bound is lag.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path
from typing import Any

import aiohttp
import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.structs import OffsetAndMetadata

from gamsi.kafka_broker import LocalBroker
from gamsi.notifier.selfwatch_groups import GroupCheck
from gamsi.notifier.service import run_notifier
from gamsi.settings import Settings
from gamsi.testing.http import HttpCapture
from gamsi.topics import ensure_topics

from .kafka_io import free_port, until

ROUTING = """
channels:
  hook: {{type: webhook, url: "{url}/hook"}}
recipients:
  oncall: {{contacts: [{{channel: hook}}]}}
routes:
  - {{name: pipeline, match: {{watches: ["gamsi.*"]}}, recipients: [oncall]}}
"""


def messages(capture: HttpCapture) -> list[tuple[str, str, str]]:
    """(kind, item, instance) of each message the webhook received."""
    out = []
    for request in capture.requests:
        body = request.json()
        events = body["events"]
        events = orjson.loads(events) if isinstance(events, str) else events
        out.append((body["kind"], events[0]["item"], events[0]["instance"]))
    return out


async def test_broker_stopped_under_the_notifier_is_told_once_then_its_recovery(
    settings: Settings, tmp_path: Path
) -> None:
    port, controller = free_port(), free_port()
    own = replace(
        settings,
        broker=replace(settings.broker, port=port, controller_port=controller),
        kafka=replace(settings.kafka, bootstrap=f"127.0.0.1:{port}"),
    )
    broker = LocalBroker(own)
    await asyncio.to_thread(broker.start)
    stop = asyncio.Event()
    service: asyncio.Task[None] | None = None
    try:
        await ensure_topics(own)
        async with HttpCapture() as capture:
            routing = tmp_path / "routing.yaml"
            routing.write_text(ROUTING.format(url=capture.url))
            own = replace(
                own,
                notifier=replace(
                    own.notifier,
                    routing_file=str(routing),
                    selfwatch_interval=0.5,
                    selfwatch_kafka_after=3.0,
                    ack_port=free_port(),
                ),
            )
            service = asyncio.create_task(run_notifier(own, stop))
            ready = f"http://127.0.0.1:{own.notifier.ack_port}/health"
            await until(lambda: _ok(ready, service), "the notifier consumes (/health 200)", 90)
            await asyncio.to_thread(broker.stop)
            told = await until(lambda: _got(capture, 1), "Kafka unreachable told", 60)
            await asyncio.to_thread(broker.start)
            told = await until(lambda: _got(capture, 2), "healthy again told", 90)
            assert not service.done(), "the notifier must outlive the outage"
            bootstrap = own.kafka.bootstrap
            assert told == [
                ("raise", "kafka.unreachable_s", bootstrap),
                ("recover", "kafka.unreachable_s", bootstrap),
            ]
            body = capture.requests[0].json()
            assert body["severity"] == "URGENT"
            assert "gamsi kafka.unreachable_s" in body["text"]
    finally:
        stop.set()
        if service is not None:
            await asyncio.wait_for(asyncio.gather(service, return_exceptions=True), 60)
        await asyncio.to_thread(broker.stop)


async def _ok(url: str, service: asyncio.Task[None]) -> bool:
    if service.done():
        service.result()  # its exception, if it died
        raise AssertionError("the notifier stopped")
    try:
        async with aiohttp.ClientSession() as session, session.get(url) as resp:
            return resp.status == 200
    except aiohttp.ClientError:
        return False


async def _got(capture: HttpCapture, n: int) -> list[Any] | None:
    found = messages(capture)
    assert len(found) <= n, f"more messages than expected: {found}"
    return found if len(found) == n else None


async def test_a_group_without_members_is_down_and_one_behind_is_lagging(
    settings: Settings, unique: str
) -> None:
    settings = replace(settings, notifier=replace(settings.notifier, selfwatch_lag=3))
    group, topic = settings.history.group_id, settings.kafka.metrics_topic
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka.bootstrap)
    await producer.start()
    try:
        for _ in range(5):
            await producer.send_and_wait(topic, b"x", key=b"h", partition=0)
    finally:
        await producer.stop()
    check = GroupCheck(settings)
    try:
        assert await check.findings() == []  # never ran: not deployed, nothing to tell
        member = AIOKafkaConsumer(
            topic, bootstrap_servers=settings.kafka.bootstrap, group_id=group,
            enable_auto_commit=False,
        )  # fmt: skip
        await member.start()
        try:
            await until(lambda: _assigned(member), "the member joined", 30)
            await member.commit({TopicPartition(topic, 0): OffsetAndMetadata(1, "")})
            (lag,) = await until(check.findings, "lag found", 30)
            assert (lag.key, lag.value, lag.threshold) == (f"lag:{group}", 4, 3)
        finally:
            await member.stop()  # leaves the group: the writer is gone
        (down,) = await until(check.findings, "down found", 30)
        assert (down.key, down.item, down.instance) == (f"down:{group}", "service.members", group)
        assert "history writer" in down.text
    finally:
        await check.close()


async def _assigned(consumer: AIOKafkaConsumer) -> bool:
    await consumer.getmany(timeout_ms=100)
    return bool(consumer.assignment())
