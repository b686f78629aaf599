"""The history writer: Kafka → ClickHouse, at least once, never stopped by bad data.

One consumer group reads the metrics, events and deliveries topics. Records are decoded
into column buffers (:mod:`gamsi.history.rows`) and inserted in batches (``batch_rows``
or every ``flush_interval`` seconds) off the event loop, because clickhouse-connect has
no async chDB client and chDB calls block. Offsets are committed only after every insert
of the batch succeeded, so a crash re-reads what was not stored: samples may then be
stored twice (harmless for reports built on averages and maxima within a minute), events
collapse by event_id (ReplacingMergeTree).

A record that does not decode goes to the dead-letter topic with the reason and the
writer carries on. A failing insert (a ClickHouse server restarting) is retried with
backoff while fetching pauses; nothing is committed meanwhile.

The service loop that runs it, and owns the embedded store, is
:mod:`gamsi.history.service`.
"""

from __future__ import annotations

import asyncio
import logging
import time

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.abc import ConsumerRebalanceListener
from aiokafka.errors import CommitFailedError
from clickhouse_connect.driver.client import Client

from gamsi.deadletter import deliver, kafka_sender, screen
from gamsi.history.rows import Buffer, Columns, decode_delivery
from gamsi.schemas.codec import decode_metric_batch, decode_severity_event
from gamsi.schemas.records import DeadLetter
from gamsi.settings import Settings
from gamsi.topics import deliveries_topic

log = logging.getLogger(__name__)

WORKER = "gamsi-history"
MAX_BACKOFF = 30.0


class HistoryWriter:
    """Buffers decoded records and stores them; flush → commit is the only commit path."""

    def __init__(
        self,
        settings: Settings,
        client: Client,
        consumer: AIOKafkaConsumer,
        producer: AIOKafkaProducer,
    ) -> None:
        self.settings = settings
        self.client = client
        self.consumer = consumer
        self.producer = producer
        self.buffer = Buffer()
        self.first_buffered: float | None = None
        self.pending: dict[TopicPartition, int] = {}
        """Per partition, the offset after the last record taken (stored at the next flush)."""
        self.lock = asyncio.Lock()
        self.rows_written = 0
        self.dead_letters = 0
        self.topics = {
            settings.kafka.metrics_topic: self._take_batch,
            settings.kafka.events_topic: self._take_event,
            deliveries_topic(settings): self._take_delivery,
            settings.remediator.results_topic: self._take_remediation,
        }

    async def run(self, stop: asyncio.Event) -> None:
        h = self.settings.history
        while not stop.is_set():
            due = h.flush_interval
            if self.first_buffered is not None:
                due = max(0.0, self.first_buffered + h.flush_interval - time.monotonic())
            fetched = await self.consumer.getmany(
                timeout_ms=int(min(due, 0.5) * 1000), max_records=h.batch_rows
            )
            for records in fetched.values():
                for record in records:
                    await self.take(record)
            if len(self.buffer) >= h.batch_rows or (
                self.first_buffered is not None
                and time.monotonic() - self.first_buffered >= h.flush_interval
            ):
                await self.flush(stop)

    async def take(self, record: ConsumerRecord) -> None:
        """Buffer one record, or dead-letter it; never raises for any record."""
        # A dead-lettered record also starts the flush clock: its offset must be committed.
        if self.first_buffered is None:
            self.first_buffered = time.monotonic()
        letter = self.ingest(record)
        if letter is not None:
            await self.dead_letter(letter)
        self.pending[TopicPartition(record.topic, record.partition)] = record.offset + 1

    def ingest(self, record: ConsumerRecord) -> DeadLetter | None:
        """Decode and buffer one record (all or nothing); any failure → its dead letter."""
        _, letter = screen(record, self.topics[record.topic], WORKER)
        return letter

    def _take_batch(self, value: bytes) -> None:
        self.buffer.add_batch(decode_metric_batch(value))

    def _take_event(self, value: bytes) -> None:
        self.buffer.add_event(decode_severity_event(value))

    def _take_delivery(self, value: bytes) -> None:
        self.buffer.add_delivery(decode_delivery(value))

    def _take_remediation(self, value: bytes) -> None:
        from gamsi.remediator.records import decode_remediation, history_values

        self.buffer.add_remediation(history_values(decode_remediation(value)))

    async def dead_letter(self, letter: DeadLetter) -> None:
        """Publish one dead letter (bounded, never raises; see gamsi.deadletter)."""
        send = kafka_sender(self.producer, self.settings.kafka.deadletter_topic)
        if await deliver(send, letter):
            self.dead_letters += 1

    async def flush(self, stop: asyncio.Event | None = None) -> None:
        """Insert every buffered table, then commit. Retries a failing insert with backoff."""
        async with self.lock:
            backoff = 0.5
            for columns in self.buffer.tables():
                while len(columns):
                    try:
                        await asyncio.to_thread(self._insert, columns)
                    except Exception as exc:  # any engine/transport error: keep the rows
                        if stop is not None and stop.is_set():
                            log.warning("stopping with %d rows not stored", len(self.buffer))
                            return
                        log.error(
                            "insert into %s failed, retrying in %.1f s: %s",
                            columns.table.name,
                            backoff,
                            exc,
                        )
                        await asyncio.sleep(backoff)
                        backoff = min(backoff * 2, MAX_BACKOFF)
                        continue
                    self.rows_written += len(columns)
                    columns.clear()
            self.first_buffered = None
            await self._commit()

    async def _commit(self) -> None:
        """Commit the offsets after the records taken (now stored), not the consumer's
        positions: a rebalance callback may flush while a fetched batch is only partly
        taken, and the rest must be read again, not skipped. Partitions no longer assigned
        are left to their new owner, which re-reads them (at least once); so is everything
        when the group moved on meanwhile (CommitFailedError: logged, not fatal)."""
        offsets, self.pending = self.pending, {}
        assigned = self.consumer.assignment()
        mine = {tp: offset for tp, offset in offsets.items() if tp in assigned}
        if not mine:
            return
        try:
            await self.consumer.commit(mine)
        except CommitFailedError as exc:
            log.warning(
                "offsets not committed, the group rebalanced (re-read by the owner): %s", exc
            )

    def _insert(self, columns: Columns) -> None:
        self.client.insert(
            columns.table.name,
            columns.data,
            column_names=list(columns.table.columns),
            column_oriented=True,
        )


class FlushOnRevoke(ConsumerRebalanceListener):
    """Store and commit before partitions move, so the next owner does not re-read them."""

    def __init__(self) -> None:
        self.writer: HistoryWriter | None = None

    async def on_partitions_revoked(self, revoked: object) -> None:
        if self.writer is not None and (len(self.writer.buffer) or self.writer.pending):
            await self.writer.flush()

    async def on_partitions_assigned(self, assigned: object) -> None:
        return None


__all__ = ["WORKER", "HistoryWriter"]
