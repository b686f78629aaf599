"""The notifier's ledger: idempotency keys, threads and open problems in a compacted topic.

Why a topic: the notifier must survive SIGKILL without sending twice or losing
anything, and Kafka is the one durable store every Gamsi process already has.
The ledger is a key/value map (``sent:<key>``, ``pending:<key>``,
``thread:<key>``, ``problem:<key>`` — open problems and who was told about them —
and ``held:<occurrence>`` — recoveries held back by maintenance) written with
``acks=all`` *before* the consumer commits its offset, and read back whole on every
partition assignment (several notifiers share one ledger: the one taking over a
partition reads what the previous owner wrote). Compaction keeps the latest value
per key; a ``None`` value is a tombstone, which is how markers no crash can need any
more are removed (:mod:`gamsi.notifier.prune`).

:class:`MemoryLedger` is the same map without Kafka, for the pure pipeline's unit
tests; the service uses :class:`KafkaLedger`.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Protocol

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord

from gamsi.kafka_auth import kafka_client_options
from gamsi.settings import Settings
from gamsi.topics import read_compacted

log = logging.getLogger(__name__)

Value = dict[str, Any] | None


class Ledger(Protocol):
    def get(self, key: str) -> Value: ...

    def items(self, prefix: str) -> list[tuple[str, dict[str, Any]]]: ...

    async def put_many(self, values: dict[str, Value]) -> None: ...


class MemoryLedger:
    def __init__(self) -> None:
        self.data: dict[str, dict[str, Any]] = {}
        self.writes = 0

    def get(self, key: str) -> Value:
        return self.data.get(key)

    def items(self, prefix: str) -> list[tuple[str, dict[str, Any]]]:
        return [(k, v) for k, v in self.data.items() if k.startswith(prefix)]

    async def put_many(self, values: dict[str, Value]) -> None:
        self.writes += 1
        for key, value in values.items():
            if value is None:
                self.data.pop(key, None)
            else:
                self.data[key] = value


async def read_map(settings: Settings, topic: str, into: dict[str, dict[str, Any]]) -> int:
    """Read a compacted topic of JSON objects (the ledger, the acks) into ``into``, latest
    value per key, tombstones removing it; returns the records read. A value that is not a
    JSON object is skipped (with a warning), never fatal."""
    consumer = AIOKafkaConsumer(
        **kafka_client_options(settings),
        enable_auto_commit=False,
        group_id=None,
        isolation_level="read_committed",
    )

    def apply(record: ConsumerRecord[bytes, bytes]) -> None:
        key = record.key.decode("utf-8", "replace") if record.key else ""
        if record.value is None:
            into.pop(key, None)
            return
        try:
            value = orjson.loads(record.value)
        except orjson.JSONDecodeError:
            value = None
        if isinstance(value, dict):
            into[key] = value
        else:
            log.warning("%s@%d: not a JSON object, skipped", topic, record.offset)

    try:
        await consumer.start()  # inside the try: a failed start is stopped too
        return await read_compacted(consumer, topic, apply)
    finally:
        await consumer.stop()


class KafkaLedger(MemoryLedger):
    """The in-memory map, loaded from and written through to the ledger topic."""

    def __init__(self, settings: Settings, producer: AIOKafkaProducer) -> None:
        super().__init__()
        self._settings = settings
        self._producer = producer
        self.topic = settings.notifier.ledger_topic

    async def load(self) -> int:
        """Read the topic from the beginning to its current end, replacing what is in
        memory (what another notifier wrote since is in it); returns the records read.
        Raises KafkaError when the broker does not answer."""
        fresh: dict[str, dict[str, Any]] = {}
        count = await read_map(self._settings, self.topic, fresh)
        self.data = fresh
        log.info("ledger %s: %d records, %d keys", self.topic, count, len(self.data))
        return count

    async def put_many(self, values: dict[str, Value]) -> None:
        if not values:
            return
        futures = [
            await self._producer.send(
                self.topic,
                key=key.encode(),
                value=None if value is None else orjson.dumps(value),
            )
            for key, value in values.items()
        ]
        await asyncio.gather(*futures)
        await super().put_many(values)
