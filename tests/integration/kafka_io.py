"""Small helpers the integration tests share: produce, wait for records, run a service.

Waiting is always on a condition with a bound, never a fixed sleep.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from gamsi.settings import Settings, to_environ

CPU_SPIKE_POLICY = str(
    Path(__file__).resolve().parents[2] / "examples" / "policies" / "cpu-spike.yaml"
)


async def produce(settings: Settings, topic: str, messages: list[tuple[bytes, bytes]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka.bootstrap)
    await producer.start()
    try:
        for key, value in messages:
            await producer.send_and_wait(topic, value, key=key)
    finally:
        await producer.stop()


async def wait_for_records(
    settings: Settings,
    topic: str,
    done: Callable[[list[Any]], bool],
    decode: Callable[[bytes], Any] = lambda b: b,
    within: float = 60.0,
    service: subprocess.Popen[bytes] | None = None,
) -> list[Any]:
    """Read `topic` from the beginning until `done(records)` holds; fail after `within` s
    or as soon as `service` (the process expected to produce them) has exited."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=settings.kafka.bootstrap,
        group_id=None,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    records: list[Any] = []
    deadline = time.monotonic() + within
    try:
        while not done(records):
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"condition not met on {topic} within {within} s: {records}")
            if service is not None and service.poll() is not None:
                raise AssertionError(f"the service exited with code {service.returncode}")
            batch = await consumer.getmany(timeout_ms=int(min(left, 0.5) * 1000))
            for messages in batch.values():
                records.extend(decode(m.value) for m in messages)
    finally:
        await consumer.stop()
    return records


@contextmanager
def gamsi_service(
    settings: Settings, *args: str, log: Path, extra_env: dict[str, str] | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """Run `python -m gamsi ARGS` with these settings; SIGTERM (then SIGKILL) on exit."""
    env = {**os.environ, **to_environ(settings), **(extra_env or {})}
    env.pop("GAMSI_CONFIG", None)
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "gamsi", *args], env=env, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def gamsi_cli(
    settings: Settings, *args: str, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run `python -m gamsi ARGS` to completion with these settings (text output, any exit)."""
    env = {**os.environ, **to_environ(settings)}
    env.pop("GAMSI_CONFIG", None)
    return subprocess.run(
        [sys.executable, "-m", "gamsi", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def free_port() -> int:
    """A loopback port nobody listens on now, for a service's endpoint in a test."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run(coro: Any) -> Any:
    return asyncio.get_event_loop().run_until_complete(coro)


async def until(check: Callable[[], Awaitable[Any]], what: str, within: float = 60.0) -> Any:
    """Poll ``check`` until it returns something truthy (returned); fail after ``within`` s."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        result = await check()
        if result:
            return result
        await asyncio.sleep(0.2)
    raise AssertionError(f"not within {within:.0f} s: {what}")


async def group_offsets(settings: Settings, group: str) -> dict[tuple[str, int], int]:
    """The offsets ``group`` committed, by (topic, partition)."""
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka.bootstrap)
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(group)
    finally:
        await admin.close()
    return {(tp.topic, tp.partition): m.offset for tp, m in offsets.items()}


async def committed(settings: Settings, group: str, topic: str) -> int:
    """The offsets ``group`` committed on ``topic``, summed over its partitions."""
    offsets = await group_offsets(settings, group)
    return sum(offset for (name, _), offset in offsets.items() if name == topic)
