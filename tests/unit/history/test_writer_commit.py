"""The history writer commits the offsets after the records it took and stored — never the
consumer's positions, and never for a partition another writer owns now."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from typing import Any

from aiokafka import ConsumerRecord, TopicPartition
from aiokafka.errors import CommitFailedError

from gamsi.history.writer import FlushOnRevoke, HistoryWriter
from gamsi.schemas.codec import encode
from gamsi.schemas.records import MetricBatch, Sample
from gamsi.settings import load_settings

SETTINGS = load_settings(environ={})
METRICS = SETTINGS.kafka.metrics_topic


def _record(topic: str, partition: int, offset: int, key: bytes | None, value: bytes) -> Any:
    """A fetched record as aiokafka hands it over."""
    return ConsumerRecord(topic, partition, offset, 0, 0, key, value, None, 0, len(value), ())


class Store:
    """Takes inserts (the engine is not what these tests are about)."""

    def __init__(self) -> None:
        self.rows: Counter[str] = Counter()

    def insert(self, table: str, data: Any, **_: Any) -> None:
        self.rows[table] += len(data[0])


class Group:
    """The consumer's side the writer uses: its assignment, and the commits it made."""

    def __init__(self, assigned: set[TopicPartition], fail: bool = False) -> None:
        self.assigned = assigned
        self.commits: list[dict[TopicPartition, int]] = []
        self.fail = fail

    def assignment(self) -> set[TopicPartition]:
        return self.assigned

    async def commit(self, offsets: dict[TopicPartition, int] | None = None) -> None:
        assert offsets is not None, "the writer names the offsets it stored"
        if self.fail:
            raise CommitFailedError("the group rebalanced")
        self.commits.append(dict(offsets))


def _batch(n: int) -> bytes:
    return encode(MetricBatch(f"h{n}", time.time(), [Sample("cpu.util", float(n))]))


def _writer(group: Group, store: Store) -> HistoryWriter:
    return HistoryWriter(SETTINGS, store, group, None)  # type: ignore[arg-type]


def test_commits_the_offsets_after_the_records_taken_of_assigned_partitions() -> None:
    p0 = TopicPartition(METRICS, 0)
    group, store = Group({p0}), Store()
    writer = _writer(group, store)

    async def scenario() -> None:
        for partition, offset in ((0, 4), (1, 9), (0, 5)):
            await writer.take(_record(METRICS, partition, offset, None, _batch(offset)))
        await writer.flush()  # p1 moved to another writer meanwhile: its owner re-reads it
        await writer.flush()  # nothing new: nothing committed again

    asyncio.run(scenario())
    assert store.rows["samples"] == 3
    assert group.commits == [{p0: 6}]
    assert writer.pending == {}


def test_a_revoke_flushes_and_commits_before_the_partitions_move() -> None:
    p0 = TopicPartition(METRICS, 0)
    group, store = Group({p0}), Store()
    listener = FlushOnRevoke()
    listener.writer = _writer(group, store)

    async def scenario() -> None:
        assert listener.writer is not None
        await listener.writer.take(_record(METRICS, 0, 0, None, _batch(1)))
        await listener.writer.take(_record(METRICS, 0, 1, None, b"{not json"))  # dead letter
        await listener.on_partitions_revoked({p0})

    listener.writer.dead_letter = _no_dead_letters  # type: ignore[method-assign]
    asyncio.run(scenario())
    assert store.rows["samples"] == 1
    assert group.commits == [{p0: 2}], "the dead letter's offset is committed too"


def test_a_commit_refused_after_a_rebalance_is_logged_not_fatal() -> None:
    p0 = TopicPartition(METRICS, 0)
    group, store = Group({p0}, fail=True), Store()
    writer = _writer(group, store)

    async def scenario() -> None:
        await writer.take(_record(METRICS, 0, 3, None, _batch(3)))
        await writer.flush()

    asyncio.run(scenario())
    assert store.rows["samples"] == 1
    assert writer.pending == {}


async def _no_dead_letters(letter: Any) -> None:
    return None
