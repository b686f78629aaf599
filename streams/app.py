"""The Faust application, built by a factory: importing this module starts nothing.

The agents are deliberately thin. ``evaluate`` decodes a host's batch (malformed
bytes become a dead letter with the reason), hands it with that host's state to
the pure engine, stores the new state once per batch in a changelog-backed
table, and sends each transition to the events topic. ``timers`` does the same
for processor-time rules (no data): the leader sends one tick per partition to a
co-partitioned ticks topic, so each tick is handled by the worker that owns the
partition's hosts, inside stream iteration, where Faust knows which changelog
partition a state write belongs to. Everything that decides severity lives in
the engine and is tested without Kafka.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from typing import Any, Protocol

import faust
import orjson

from gamsi.schemas.codec import DecodeError, decode_metric_batch
from gamsi.schemas.faust_codec import STATE_CODEC_NAME, register
from gamsi.schemas.records import DeadLetter, MetricBatch, SeverityEvent
from gamsi.settings import Settings
from gamsi.topics import ticks_topic

log = logging.getLogger(__name__)

STATE_TABLE = "host-state"


class Engine(Protocol):
    def process(
        self, state: dict[str, Any] | None, batch: MetricBatch
    ) -> tuple[dict[str, Any], list[SeverityEvent]]: ...

    def tick(
        self, state: dict[str, Any] | None, host: str, now: float
    ) -> tuple[dict[str, Any], list[SeverityEvent]]: ...


class EngineHolder:
    """The engine in force; replaced when a policy is applied, read per batch.

    The worker builds the first engine from the applied policy *before* Faust starts
    (see gamsi.streams.service), so agents never wait for it: an agent that awaited
    anything before iterating its stream sometimes never received its partitions
    after a restart (faust-streaming 0.15)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine


def configured_engine(settings: Settings) -> Engine:
    from gamsi.streams.engine import Engine as RuleEngine
    from gamsi.streams.policy.load import load_policy

    s = settings.streams
    return RuleEngine(load_policy(s.policy_path or None, s.default_os))


def create_app(
    settings: Settings, engine: Engine | None = None, follow_policy_topic: bool = True
) -> faust.App:
    """Declare topics, the state table, the agents and the timer for these settings."""
    codec = register()
    holder = EngineHolder(engine or configured_engine(settings))
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
        consumer_auto_offset_reset="earliest",
        processing_guarantee="at_least_once",
        table_standby_replicas=0,
        producer_linger_ms=0,
        broker_session_timeout=settings.streams.session_timeout,
        broker_heartbeat_interval=min(3.0, settings.streams.session_timeout / 3),
        datadir=str(datadir),
    )
    metrics = app.topic(
        k.metrics_topic, key_serializer="raw", value_serializer="raw", partitions=k.partitions
    )
    ticks = app.topic(
        ticks_topic(settings),
        key_serializer="raw",
        value_serializer="raw",
        partitions=k.partitions,
    )
    events = app.topic(
        k.events_topic, key_serializer="raw", value_serializer=codec, partitions=k.partitions
    )
    deadletters = app.topic(k.deadletter_topic, key_serializer="raw", value_serializer=codec)
    # value: {"p": partition of the host, "s": the engine's state for the host}
    state = app.Table(
        STATE_TABLE,
        default=None,
        partitions=k.partitions,
        schema=faust.Schema(key_serializer=STATE_CODEC_NAME, value_serializer=STATE_CODEC_NAME),
    )

    async def emit(host: str, transitions: list[SeverityEvent]) -> None:
        key = host.encode()
        for transition in transitions:
            transition.emitted_at = time.time()
            await events.send(key=key, value=transition)

    @app.agent(metrics, name="evaluate")
    async def evaluate(stream: faust.Stream) -> None:
        async for event in stream.events():
            message = event.message
            try:
                batch = decode_metric_batch(event.value)
            except DecodeError as exc:
                await deadletters.send(
                    key=event.key, value=DeadLetter.of(str(exc), message, worker_name)
                )
                log.warning(
                    "dead letter from %s[%d]@%d: %s",
                    message.topic,
                    message.partition,
                    message.offset,
                    exc,
                )
                continue
            held = state.get(batch.host)
            new_state, transitions = holder.engine.process(held and held["s"], batch)
            state[batch.host] = {"p": message.partition, "s": new_state}
            await emit(batch.host, transitions)

    @app.agent(ticks, name="timers")
    async def timers(stream: faust.Stream) -> None:
        async for event in stream.events():
            partition = event.message.partition
            try:
                now = float(orjson.loads(event.value)["now"])
            except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
                log.warning("ignoring malformed tick %r", event.value)
                continue
            for host, held in list(state.items()):
                if held is None or held["p"] != partition:
                    continue
                new_state, transitions = holder.engine.tick(held["s"], host, now)
                if transitions:
                    state[host] = {"p": partition, "s": new_state}
                    await emit(host, transitions)

    @app.timer(interval=settings.streams.tick_interval, on_leader=True)
    async def send_ticks() -> None:
        body = orjson.dumps({"now": time.time()})
        for partition in range(k.partitions):
            await ticks.send(value=body, partition=partition)

    if follow_policy_topic:

        @app.task
        async def follow() -> None:
            from gamsi.streams.engine import Engine as RuleEngine
            from gamsi.streams.policy.feed import follow_policies

            def swap(policy: Any, source: str) -> None:
                holder.engine = RuleEngine(policy)

            await follow_policies(settings, swap)

    app.gamsi_engine = holder  # type: ignore[attr-defined]
    return app
