"""The agent against the real broker: live publishing, an outage spooled and replayed,
and the service as systemd runs it: SIGTERM spools, a restart replays, SIGHUP reloads.

The outage test runs a broker of its own (LocalBroker on free ports in a
temporary data_dir) because it stops and restarts it.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiokafka import AIOKafkaConsumer

from gamsi.collector.agent import KAFKA_LOG_PERIOD, Agent, build_batch
from gamsi.collector.service import run_agent
from gamsi.collector.spool import Spool
from gamsi.kafka_broker import LocalBroker
from gamsi.schemas.codec import decode_metric_batch, encode
from gamsi.settings import Settings, load_settings
from gamsi.topics import ensure_topics
from tests.integration.kafka_io import free_port, wait_for_records


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
    own_broker: LocalBroker, tmp_path: Path, unique: str, caplog: pytest.LogCaptureFixture
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
    caplog.set_level(logging.INFO)
    with ThreadPoolExecutor(max_workers=1) as pool:
        task = asyncio.create_task(agent.run(stop))
        try:
            await until(lambda: agent.seq >= 2 and not len(agent.spool), 30, "live delivery")
            outage = time.monotonic()
            await loop.run_in_executor(pool, own_broker.stop)
            await until(lambda: len(agent.spool) >= 3, 60, "three spooled batches")
            spooled_at = agent.seq
            await loop.run_in_executor(pool, start_broker, own_broker)
            await until(lambda: not len(agent.spool) and agent.seq >= spooled_at + 2, 120, "replay")
            outage = time.monotonic() - outage
        finally:
            stop.set()
            await task
    published = agent.seq
    messages = await consume(settings, published, within=60)
    seqs = [decode_metric_batch(value).seq for _, value in messages]
    assert seqs == list(range(published))
    assert agent.spool.dropped == 0
    # aiokafka's retry loop: one line per kind of message per KAFKA_LOG_PERIOD, not per retry.
    kinds = Counter((r.name, r.levelno, r.msg) for r in caplog.records if r.name[:8] == "aiokafka")
    most = 1 + int(outage // KAFKA_LOG_PERIOD) + 1
    assert all(n <= most for n in kinds.values()), (outage, kinds.most_common(3))
    lines = [r.getMessage() for r in caplog.records if r.name == "gamsi.collector.agent"]
    assert sum("spooling to" in line for line in lines) == 1, lines
    assert sum("takes batches again" in line for line in lines) == 1, lines


# -- the service as systemd runs it: python -m gamsi.collector -c FILE run ------------------


def write_config(path: Path, data_dir: Path, bootstrap: str, topic: str, **collector: Any) -> Path:
    """A gamsi.toml for one collector process (light inputs, 1 s ticks)."""
    values = {"interval": 1.0, "inputs": ["cpu", "memory"], "publish_timeout": 3.0, **collector}
    lines = [
        f"[paths]\ndata_dir = {str(data_dir)!r}",
        f"[kafka]\nbootstrap = {bootstrap!r}\nmetrics_topic = {topic!r}",
        "[collector]",
        *(f"{key} = {orjson.dumps(value).decode()}" for key, value in values.items()),
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


@contextmanager
def collector_process(config: Path, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """The collector service in a child process; SIGTERM (then SIGKILL) if still running."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GAMSI_")}
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "gamsi.collector", "-c", str(config), "run"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def spooled(directory: Path) -> list[bytes]:
    """The values waiting in a spool directory, oldest first (read without consuming)."""
    return [value for _, value in Spool(directory, 64 * 1024 * 1024).records()]


async def stopped(proc: subprocess.Popen[bytes], within: float) -> int:
    await until(lambda: proc.poll() is not None, within, "the collector to exit")
    return int(proc.returncode)


async def test_sigterm_spools_every_batch_kafka_did_not_take(tmp_path: Path, unique: str) -> None:
    """A broker that accepts connections and never answers: each publish hangs for the
    publish timeout while ticks queue up; SIGTERM must leave every batch made in the spool."""
    with socket.socket() as hole:
        hole.bind(("127.0.0.1", 0))
        hole.listen(64)
        bootstrap = f"127.0.0.1:{hole.getsockname()[1]}"
        data = tmp_path / "data"
        config = write_config(tmp_path / "gamsi.toml", data, bootstrap, f"t-{unique}.metrics")
        log = tmp_path / "collector.log"
        with collector_process(config, log) as proc:
            await until(lambda: len(list((data / "spool").glob("*.rec"))) >= 2, 60, "spooling")
            proc.send_signal(signal.SIGTERM)
            assert await stopped(proc, 30) == 0
    text = log.read_text()
    made = re.search(r"collector stopped at seq (\d+); (\d+) batches in the spool", text)
    assert made is not None, text
    batches = [decode_metric_batch(v) for v in spooled(data / "spool")]
    assert int(made[2]) == len(batches) == int(made[1]) >= 3, text  # none lost, none sent
    assert [b.seq for b in batches] == list(range(len(batches)))
    assert text.count("spooling to") == 1  # one line when Kafka went away, not one per retry


async def test_a_restarted_agent_replays_the_spool_first_in_order(
    settings: Settings, tmp_path: Path, unique: str
) -> None:
    """Batches a previous run left in the spool go to Kafka before any batch of the new run."""
    data = tmp_path / "data"
    host = f"edge-{unique}"
    previous = Spool(data / "spool", 64 * 1024 * 1024)
    then = time.time() - 600
    old = [
        encode(build_batch(replace(settings.collector, host=host), "linux", seq, then + seq, []))
        for seq in range(5)
    ]
    for value in old:
        previous.append(host.encode(), value)
    topic = settings.kafka.metrics_topic
    config = write_config(tmp_path / "gamsi.toml", data, settings.kafka.bootstrap, topic, host=host)
    with collector_process(config, tmp_path / "collector.log") as proc:
        values = await wait_for_records(settings, topic, lambda r: len(r) >= 8, service=proc)
        proc.send_signal(signal.SIGTERM)
        assert await stopped(proc, 30) == 0
    assert values[:5] == old  # the spool, byte for byte, in order, before anything new
    live = [decode_metric_batch(v) for v in values[5:]]
    assert all(b.host == host and b.ts > then + 600 for b in live)
    assert [b.seq for b in live] == list(range(len(live)))
    assert spooled(data / "spool") == []


async def test_sighup_reloads_the_configuration_and_keeps_the_run(
    settings: Settings, tmp_path: Path, unique: str
) -> None:
    """SIGHUP applies a changed file without a restart (same process, seq goes on);
    a file that no longer validates is logged and the running configuration kept."""
    data, topic, host = tmp_path / "data", settings.kafka.metrics_topic, f"web-{unique}"
    path, log = tmp_path / "gamsi.toml", tmp_path / "collector.log"
    write_config(path, data, settings.kafka.bootstrap, topic, host=host, tags=["before"])

    async def read(done: Callable[[list[Any]], bool], proc: subprocess.Popen[bytes]) -> list:
        return await wait_for_records(
            settings, topic, done, decode=decode_metric_batch, service=proc
        )

    with collector_process(path, log) as proc:
        await read(lambda r: len(r) >= 2, proc)
        write_config(path, data, settings.kafka.bootstrap, topic, host=host, tags=["after"])
        proc.send_signal(signal.SIGHUP)
        await read(lambda r: any(b.tags == ["after"] for b in r), proc)
        path.write_text(path.read_text().replace("interval = 1.0", "interval = 0.1"))
        proc.send_signal(signal.SIGHUP)
        await until(lambda: "reload failed" in log.read_text(), 30, "the failed reload")
        failed_at = time.time()
        batches = await read(lambda r: sum(b.ts > failed_at for b in r) >= 2, proc)
        assert proc.poll() is None  # still the same process
    tags = [b.tags for b in batches]
    first_after = tags.index(["after"])
    assert set(map(tuple, tags[:first_after])) == {("before",)}
    assert set(map(tuple, tags[first_after:])) == {("after",)}  # kept after the bad file
    assert [b.seq for b in batches] == list(range(len(batches)))  # one process, no repeat
    assert "[collector] interval: expected at least 1.0 s, got 0.1" in log.read_text()
