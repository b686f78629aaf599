"""The history writer's promises under faults (issue 10 section 7), on the real broker and
chDB: a failing insert is retried with nothing committed and nothing stored twice; after
a crash between insert and commit the records are read again — samples stored twice,
events once (ReplacingMergeTree, read with FINAL) — and nothing is lost."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import replace
from typing import Any

import orjson
import pytest
from aiokafka import AIOKafkaConsumer

from gamsi.history.service import run_history
from gamsi.history.store import open_client, open_store
from gamsi.schemas.codec import encode
from gamsi.schemas.records import MetricBatch, Sample, SeverityEvent
from gamsi.settings import Settings
from gamsi.topics import deliveries_topic
from tests.integration.kafka_io import committed, produce, until

WAIT = 60.0


@pytest.fixture
def hs(settings: Settings) -> Settings:
    return replace(settings, history=replace(settings.history, query_port=0, flush_interval=0.2))


def _batch(host: str, value: float) -> tuple[bytes, bytes]:
    return host.encode(), encode(MetricBatch(host, time.time(), [Sample("cpu.util", value)]))


def _delivery(host: str) -> tuple[bytes, bytes]:
    body = {"v": 1, "kind": "delivery", "ts": time.time(), "event_id": f"{host}-1"}
    return host.encode(), orjson.dumps({**body, "host": host, "channel": "x", "result": "sent"})


async def test_a_failing_insert_is_retried_commits_nothing_and_stores_once(
    hs: Settings, unique: str, caplog: pytest.LogCaptureFixture
) -> None:
    host = f"h-{unique}"
    k, group = hs.kafka, hs.history.group_id
    sql = open_store(hs)
    stop = asyncio.Event()
    caplog.set_level(logging.ERROR, logger="gamsi.history.writer")
    service = asyncio.create_task(run_history(hs, stop))

    def count(table: str) -> int:
        return int(
            sql.query(f"SELECT count() FROM {table} WHERE host = '{host}'").result_rows[0][0]
        )

    def failures() -> list[str]:
        return [
            r.getMessage() for r in caplog.records if "insert into deliveries" in r.getMessage()
        ]

    try:
        await produce(hs, k.metrics_topic, [_batch(host, 1.0)])
        await until(lambda: asyncio.to_thread(count, "samples"), "the first batch stored")
        await until(lambda: committed(hs, group, k.metrics_topic), "the first batch committed")
        sql.command(f"RENAME TABLE deliveries TO deliveries_away_{unique}")  # inserts now fail
        try:
            await produce(hs, deliveries_topic(hs), [_delivery(host)])
            await produce(hs, k.metrics_topic, [_batch(host, 2.0)])
            await until(lambda: asyncio.sleep(0, len(failures()) >= 2), "two failed inserts")
            assert await committed(hs, group, k.metrics_topic) == 1, "committed while failing"
            assert await committed(hs, group, deliveries_topic(hs)) == 0
        finally:
            sql.command(f"RENAME TABLE deliveries_away_{unique} TO deliveries")
        await until(
            lambda: committed(hs, group, deliveries_topic(hs)),
            "the delivery committed",
        )
        stored = (count("samples"), count("deliveries"))
        metrics_committed = await committed(hs, group, k.metrics_topic)
    finally:
        stop.set()
        await asyncio.wait_for(service, WAIT)
        sql.close()
    assert "retrying in" in failures()[0]
    assert stored == (2, 1), "each record stored once: the retry re-inserted only the failed table"
    assert metrics_committed == 2


async def test_after_a_crash_between_insert_and_commit_records_are_read_again(
    hs: Settings, unique: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    host = f"h-{unique}"
    k, group = hs.kafka, hs.history.group_id
    event = SeverityEvent(
        f"{host}-e1", host, "cpu.util", "", "cpu", 4, 0, "raise", 97.0, 90.0, time.time()
    )
    await produce(hs, k.metrics_topic, [_batch(host, 1.0)])
    await produce(hs, k.events_topic, [(host.encode(), encode(event))])
    real_commit = AIOKafkaConsumer.commit
    crashes: list[int] = []

    async def crash_on_commit(self: AIOKafkaConsumer, *args: Any, **kwargs: Any) -> None:
        crashes.append(1)
        raise RuntimeError("simulated crash after the insert, before the commit")

    monkeypatch.setattr(AIOKafkaConsumer, "commit", crash_on_commit)
    with pytest.raises(RuntimeError, match="simulated crash"):
        await asyncio.wait_for(run_history(hs, asyncio.Event()), WAIT)
    monkeypatch.setattr(AIOKafkaConsumer, "commit", real_commit)
    sql = open_client(hs)

    def rows(query: str) -> int:
        return int(sql.query(query).result_rows[0][0])

    samples = f"SELECT count() FROM samples WHERE host = '{host}'"
    events = f"SELECT count() FROM events FINAL WHERE host = '{host}'"
    after_crash = (rows(samples), rows(events))
    assert await committed(hs, group, k.metrics_topic) == 0, "nothing committed before the crash"

    stop = asyncio.Event()
    service = asyncio.create_task(run_history(hs, stop))
    try:
        await until(
            lambda: committed(hs, group, k.events_topic),
            "the restarted writer committed",
        )
        await until(lambda: committed(hs, group, k.metrics_topic), "metrics committed")
    finally:
        stop.set()
        await asyncio.wait_for(service, WAIT)
    after_restart = (rows(samples), rows(events))
    sql.close()
    assert crashes == [1]
    assert after_crash == (1, 1), "the crashed writer had inserted before it died"
    assert after_restart == (2, 1), "samples re-read and stored twice, the event once"
