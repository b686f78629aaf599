"""The history service: the writer, the store it owns and the read-only query endpoint.

``gamsi history run`` runs :func:`run_history` until SIGTERM (gamsi.runner): it
ensures the topics, opens the store (a ClickHouse server that does not answer yet is
retried with backoff; the embedded chDB store is owned by this process alone), serves
``/query``, ``/metrics`` and ``/health`` (:mod:`gamsi.history.query_server`) and runs
the :class:`~gamsi.history.writer.HistoryWriter` over the metrics, events, deliveries
and remediation-results topics.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from clickhouse_connect.driver.client import Client

from gamsi.history.query_server import start_query_server
from gamsi.history.store import Reader, masked, open_client, open_store
from gamsi.history.writer import WORKER, FlushOnRevoke, HistoryWriter
from gamsi.kafka_auth import kafka_client_options, producer_options
from gamsi.metrics import SelfReport, watch_consumer
from gamsi.settings import ConfigError, Settings
from gamsi.topics import deliveries_topic, ensure_topics

log = logging.getLogger(__name__)

MAX_BACKOFF = 30.0


async def run_history(settings: Settings, stop: asyncio.Event | None = None) -> None:
    """Run the history service until ``stop`` is set (forever when it is None)."""
    stop = stop or asyncio.Event()
    await ensure_topics(settings)
    client = await _open_store(settings, stop)
    if client is None:
        return
    reader: Reader | None = None
    runner = None
    # /metrics and /health on the query endpoint
    report = SelfReport(settings, "history", settings.history.group_id)
    try:
        await report.start()
        if settings.history.query_port:
            reader = Reader(await asyncio.to_thread(open_client, settings, read_only=True))
            runner = await start_query_server(reader, settings, client.command, report)
        topics = [
            settings.kafka.metrics_topic,
            settings.kafka.events_topic,
            deliveries_topic(settings),
            settings.remediator.results_topic,
        ]
        await _consume(settings, client, stop, topics, report)
    finally:
        if runner is not None:
            await runner.cleanup()
        await report.close()
        if reader is not None:
            reader.close()
        client.close()


async def _open_store(settings: Settings, stop: asyncio.Event) -> Client | None:
    """The writer's client, schema created; None if ``stop`` was set first.

    A ClickHouse server that refuses or does not answer (bounded by the store's connect
    and read timeouts) is logged and retried with backoff up to 30 s apart. The embedded
    store's errors (another process owns it) are raised at once: waiting cannot fix them."""
    backoff = 1.0
    while not stop.is_set():
        try:
            return await asyncio.to_thread(open_store, settings)
        except Exception as exc:
            # the embedded store's errors (another process owns it) and a ConfigError (a
            # cluster name, single-node tables where the cluster's go): waiting fixes neither
            if isinstance(exc, ConfigError) or settings.history_dsn().startswith("chdb:"):
                raise
            log.warning("history store not ready, retrying in %.0f s: %s", backoff, exc)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), backoff)
        backoff = min(backoff * 2, MAX_BACKOFF)
    return None


async def _consume(
    settings: Settings, client: Client, stop: asyncio.Event, topics: list[str], report: SelfReport
) -> None:
    listener = FlushOnRevoke()
    consumer = AIOKafkaConsumer(
        **kafka_client_options(settings),
        group_id=settings.history.group_id,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        client_id=WORKER,
    )
    consumer.subscribe(topics, listener=listener)
    producer = AIOKafkaProducer(**producer_options(settings), client_id=WORKER)
    await producer.start()
    try:
        await consumer.start()
        try:
            writer = HistoryWriter(settings, client, consumer, producer)
            listener.writer = writer
            _figures(report, writer)
            where = masked(settings.history_dsn())
            log.info("history: consuming %s into %s", ", ".join(topics), where)
            await writer.run(stop)
            await writer.flush(stop)  # also commits dead-lettered offsets with nothing buffered
        finally:
            await consumer.stop()
    finally:
        await producer.stop()


def _figures(report: SelfReport, writer: HistoryWriter) -> None:
    """The history service's own figures (docs/operations.md)."""
    f = report.figures
    f.counter(
        "gamsi_history_rows_inserted_total",
        "Rows inserted into ClickHouse.",
        lambda: writer.rows_written,
    )
    f.gauge(
        "gamsi_history_rows_buffered", "Rows waiting for the next insert.", writer.buffer.__len__
    )
    watch_consumer(f, report.health, writer.consumer, writer.settings.history.group_id)


__all__ = ["run_history"]
