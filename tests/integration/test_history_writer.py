"""The history service end to end: real broker, real chDB, real query endpoint."""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from typing import Any

import orjson
import pytest
from aiokafka import AIOKafkaProducer

from gamsi.history.client import QueryError, remote, service_answers
from gamsi.history.service import run_history
from gamsi.schemas.codec import decode, encode
from gamsi.schemas.records import DeadLetter, MetricBatch, Sample, SeverityEvent
from gamsi.settings import Settings
from gamsi.topics import deliveries_topic

from .kafka_io import committed, free_port, until, wait_for_records

WAIT = 60.0


@pytest.fixture
def hs(settings: Settings, unique: str) -> Settings:
    """The test's settings with a deliveries topic of its own and a free endpoint port."""
    history = replace(
        settings.history,
        deliveries_topic=f"t-{unique}.deliveries",
        query_port=free_port(),
        flush_interval=0.2,
    )
    return replace(settings, history=history)


def _event(host: str, event_id: str, ts: float, severity: int, previous: int) -> SeverityEvent:
    return SeverityEvent(
        event_id=event_id,
        host=host,
        item="cpu.util",
        instance="",
        watch="cpu-high",
        severity=severity,
        previous=previous,
        transition="raise" if severity else "recover",
        value=97.5,
        threshold=90.0,
        ts=ts,
        since=ts if severity else 0.0,
        emitted_at=ts + 0.01,
        message="CPU high",
        tags=["web"],
    )


def _delivery(host: str, event_id: str, ts: float) -> bytes:
    return orjson.dumps(
        {
            "v": 1,
            "kind": "delivery",
            "ts": ts,
            "event_id": event_id,
            "route": "ops",
            "channel": "slack",
            "recipient": "#gamsi",
            "host": host,
            "item": "cpu.util",
            "instance": "",
            "severity": 4,
            "transition": "raise",
            "result": "sent",
            "attempts": 1,
            "error": "",
        }
    )


async def test_writer_stores_everything_and_dead_letters_bad_records(
    hs: Settings, unique: str
) -> None:
    host = f"h-{unique}"
    now = time.time()
    k = hs.kafka
    stop = asyncio.Event()
    service = asyncio.create_task(run_history(hs, stop))
    run = remote(hs)

    async def query(sql: str) -> list[list[Any]]:
        return (await asyncio.to_thread(run, sql)).rows

    producer = AIOKafkaProducer(bootstrap_servers=k.bootstrap, acks="all")
    await producer.start()
    try:
        await until(lambda: asyncio.to_thread(service_answers, hs), "the endpoint answers")
        batch = MetricBatch(
            host=host,
            ts=now,
            samples=[Sample("cpu.util", 97.5), Sample("disk.used_pct", 40.0, "/")],
            tags=["web"],
        )
        await producer.send_and_wait(k.metrics_topic, encode(batch), key=host.encode())
        await producer.send_and_wait(k.metrics_topic, b"{not json", key=host.encode())
        later = MetricBatch(host=host, ts=now + 1, samples=[Sample("cpu.util", 12.0)])
        await producer.send_and_wait(k.metrics_topic, encode(later), key=host.encode())
        raised = _event(host, f"{unique}-1", now, 4, 0)
        for record in (raised, raised, _event(host, f"{unique}-2", now + 60, 0, 4)):
            await producer.send_and_wait(k.events_topic, encode(record), key=host.encode())
        await producer.send_and_wait(
            deliveries_topic(hs), _delivery(host, f"{unique}-1", now + 0.5)
        )

        async def rows(sql: str, n: int) -> list[list[Any]]:
            """The rows of ``sql`` once there are ``n`` of them (bounded wait)."""

            async def check() -> list[list[Any]] | None:
                found = await query(sql)
                return found if len(found) == n else None

            return await until(check, f"{n} rows of {sql}")

        samples = await rows(
            f"SELECT item, instance, value, tags FROM samples WHERE host = '{host}' "
            "ORDER BY ts, item",
            3,  # the batch after the malformed record is stored too
        )
        events = await rows(
            f"SELECT event_id, severity, previous FROM events FINAL WHERE host = '{host}' "
            "ORDER BY ts",
            2,  # the redelivered event counts once
        )
        deliveries = await rows(
            f"SELECT channel, result, attempts, severity FROM deliveries WHERE host = '{host}'", 1
        )
        rollup = await query(
            f"SELECT avgMerge(avg_value), max(max_value) FROM samples_1m "
            f"WHERE host = '{host}' AND item = 'cpu.util'"
        )
        with pytest.raises(QueryError, match="only SELECT is served, got DROP"):
            await query("DROP TABLE samples")
    finally:
        await producer.stop()
        stop.set()
        await asyncio.wait_for(service, WAIT)

    assert samples == [
        ["cpu.util", "", 97.5, ["web"]],
        ["disk.used_pct", "/", 40.0, ["web"]],
        ["cpu.util", "", 12.0, []],
    ]
    assert [e[0] for e in events] == [f"{unique}-1", f"{unique}-2"]
    assert deliveries == [["slack", "sent", 1, 4]]
    assert rollup == [[pytest.approx((97.5 + 12.0) / 2), 97.5]]
    letters = await wait_for_records(hs, k.deadletter_topic, lambda r: len(r) >= 1, decode)
    assert len(letters) == 1
    letter = letters[0]
    assert isinstance(letter, DeadLetter)
    assert letter.source_topic == k.metrics_topic
    assert letter.reason.startswith("not JSON")
    assert letter.payload == "{not json"
    assert letter.worker == "gamsi-history"
    assert await committed(hs, hs.history.group_id, hs.kafka.metrics_topic) == 3, (
        "offsets are committed after the inserts"
    )
