"""The agent against the real broker: live publishing, and an outage spooled and replayed.

The outage test runs a broker of its own (LocalBroker on free ports in a
temporary data_dir) because it stops and restarts it.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer

from gamsi.collector.agent import Agent, run_agent
from gamsi.kafka_broker import LocalBroker
from gamsi.schemas.codec import decode_metric_batch
from gamsi.settings import Settings, load_settings
from gamsi.topics import ensure_topics
from tests.integration.kafka_io import free_port


async def consume(settings: Settings, count: int, within: float) -> list[tuple[bytes, bytes]]:
    consumer = AIOKafkaConsumer(
        settings.kafka.metrics_topic,
        bootstrap_servers=settings.kafka.bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    out: list[tuple[bytes, bytes]] = []
    try:
        async with asyncio.timeout(within):
            async for msg in consumer:
                out.append((msg.key, msg.value))
                if len(out) >= count:
                    break
    finally:
        await consumer.stop()
    return out


async def test_agent_publishes_batches_the_stream_processor_can_read(
    settings: Settings, unique: str
) -> None:
    settings = replace(
        settings,
        collector=replace(settings.collector, host=f"host-{unique}", interval=1.0, tags=["t"]),
    )
    stop = asyncio.Event()
    agent = asyncio.create_task(run_agent(settings, stop))
    try:
        messages = await consume(settings, 3, within=30)
    finally:
        stop.set()
        await agent
    batches = [decode_metric_batch(value) for _, value in messages]
    assert {key for key, _ in messages} == {f"host-{unique}".encode()}
    first = batches[0].seq  # a run's seq continues across reloads in one process
    assert [b.seq for b in batches] == [first, first + 1, first + 2]
    assert all(
        b.host == f"host-{unique}" and b.tags == ["t"] and b.interval == 1.0 for b in batches
    )
    assert "cpu.util" not in {s.item for s in batches[0].samples}  # no rate on the first tick
    util = [s.value for s in batches[1].samples if s.item == "cpu.util"]
    assert len(util) == 1
    assert 0.0 <= util[0] <= 100.0
    assert batches[2].ts > batches[1].ts > batches[0].ts


def start_broker(broker: LocalBroker) -> None:
    """Start it through the CLI, as a user would (its Popen then lives in that process)."""
    env = {
        **os.environ,
        "GAMSI_PATHS_DATA_DIR": str(broker.settings.data_dir),
        "GAMSI_BROKER_PORT": str(broker.settings.broker.port),
        "GAMSI_BROKER_CONTROLLER_PORT": str(broker.settings.broker.controller_port),
        "GAMSI_KAFKA_BOOTSTRAP": broker.bootstrap,
    }
    env.pop("GAMSI_CONFIG", None)
    subprocess.run(
        [sys.executable, "-m", "gamsi", "kafka", "start"], env=env, check=True, capture_output=True
    )


@pytest.fixture
def own_broker(tmp_path: Path) -> Iterator[LocalBroker]:
    base = load_settings(environ={})
    settings = replace(
        base,
        paths=replace(base.paths, data_dir=str(tmp_path / "broker")),
        broker=replace(base.broker, port=free_port(), controller_port=free_port()),
    )
    broker = LocalBroker(settings)
    start_broker(broker)
    try:
        yield broker
    finally:
        broker.stop()


async def until(condition: Callable[[], bool], within: float, what: str) -> None:
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within} s waiting for {what}")
        await asyncio.sleep(0.1)


async def test_outage_is_spooled_and_replayed_in_order(
    own_broker: LocalBroker, tmp_path: Path, unique: str
) -> None:
    base = load_settings(environ={})
    settings: Settings = replace(
        base,
        paths=replace(base.paths, data_dir=str(tmp_path / "agent")),
        kafka=replace(
            base.kafka, bootstrap=own_broker.bootstrap, metrics_topic=f"t-{unique}.metrics"
        ),
        collector=replace(base.collector, host=f"edge-{unique}", interval=1.0, publish_timeout=2.0),
    )
    await ensure_topics(settings)
    agent = Agent(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    with ThreadPoolExecutor(max_workers=1) as pool:
        task = asyncio.create_task(agent.run(stop))
        try:
            await until(lambda: agent.seq >= 2 and not len(agent.spool), 30, "live delivery")
            await loop.run_in_executor(pool, own_broker.stop)
            await until(lambda: len(agent.spool) >= 3, 60, "three spooled batches")
            spooled_at = agent.seq
            await loop.run_in_executor(pool, start_broker, own_broker)
            await until(lambda: not len(agent.spool) and agent.seq >= spooled_at + 2, 120, "replay")
        finally:
            stop.set()
            await task
    published = agent.seq
    messages = await consume(settings, published, within=60)
    seqs = [decode_metric_batch(value).seq for _, value in messages]
    assert seqs == list(range(published))
    assert agent.spool.dropped == 0
