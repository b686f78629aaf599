"""The Faust application, built by a factory: importing this module starts nothing.

The agent is deliberately thin: decode a host's batch (malformed bytes become a
dead letter with the reason), hand it with that host's state to the pure
engine, store the new state once per batch in a changelog-backed table, and
send each transition to the events topic. Everything that decides severity
lives in the engine and is tested without Kafka.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from typing import Any, Protocol

import faust

from gamsi.schemas.codec import DecodeError, decode_metric_batch
from gamsi.schemas.faust_codec import STATE_CODEC_NAME, register
from gamsi.schemas.records import DeadLetter, MetricBatch, SeverityEvent
from gamsi.settings import Settings

log = logging.getLogger(__name__)

STATE_TABLE = "host-state"


class Engine(Protocol):
    def process(
        self, state: dict[str, Any] | None, batch: MetricBatch
    ) -> tuple[dict[str, Any], list[SeverityEvent]]: ...

    def tick(
        self, state: dict[str, Any] | None, host: str, now: float
    ) -> tuple[dict[str, Any], list[SeverityEvent]]: ...


def default_engine(settings: Settings) -> Engine:
    from gamsi.streams.threshold import ThresholdEngine, ThresholdWatch

    s = settings.streams
    return ThresholdEngine(
        [ThresholdWatch("cpu-busy", "cpu.util", s.cpu_threshold, s.cpu_recovery)]
    )


def create_app(settings: Settings, engine: Engine | None = None) -> faust.App:
    """Declare topics, the state table and the evaluating agent for these settings."""
    codec = register()
    engine = engine or default_engine(settings)
    k = settings.kafka
    worker_name = f"{socket.gethostname()}:{os.getpid()}"
    datadir = settings.data_dir / "faust"
    datadir.mkdir(parents=True, exist_ok=True)
    app = faust.App(
        settings.streams.app_id,
        broker=[f"kafka://{b.strip()}" for b in k.bootstrap.split(",")],
        store="memory://",
        web_enabled=False,
        topic_partitions=k.partitions,
        topic_replication_factor=k.replication,
        topic_allow_declare=True,
        consumer_auto_offset_reset="earliest",
        processing_guarantee="at_least_once",
        table_standby_replicas=0,
        producer_linger_ms=0,
        datadir=str(datadir),
    )
    metrics = app.topic(
        k.metrics_topic, key_serializer="raw", value_serializer="raw", partitions=k.partitions
    )
    events = app.topic(
        k.events_topic, key_serializer="raw", value_serializer=codec, partitions=k.partitions
    )
    deadletters = app.topic(k.deadletter_topic, key_serializer="raw", value_serializer=codec)
    state = app.Table(
        STATE_TABLE,
        default=None,
        partitions=k.partitions,
        schema=faust.Schema(key_serializer=STATE_CODEC_NAME, value_serializer=STATE_CODEC_NAME),
    )

    @app.agent(metrics, name="evaluate")
    async def evaluate(stream: faust.Stream) -> None:
        async for event in stream.events():
            message = event.message
            try:
                batch = decode_metric_batch(event.value)
            except DecodeError as exc:
                await deadletters.send(
                    key=event.key,
                    value=dead_letter(str(exc), message, event.key, event.value, worker_name),
                )
                log.warning(
                    "dead letter from %s[%d]@%d: %s",
                    message.topic,
                    message.partition,
                    message.offset,
                    exc,
                )
                continue
            new_state, transitions = engine.process(state.get(batch.host), batch)
            state[batch.host] = new_state
            host_key = batch.host.encode()
            for transition in transitions:
                transition.emitted_at = time.time()
                await events.send(key=host_key, value=transition)

    app.gamsi_engine = engine  # type: ignore[attr-defined]
    return app


def dead_letter(
    reason: str, message: Any, key: bytes | None, value: bytes | None, worker: str
) -> DeadLetter:
    def text(b: bytes | None) -> str:
        return "" if b is None else b.decode("utf-8", "replace")

    return DeadLetter(
        reason=reason,
        source_topic=message.topic,
        partition=message.partition,
        offset=message.offset,
        payload=text(value),
        key=text(key),
        received_at=time.time(),
        worker=worker,
    )
