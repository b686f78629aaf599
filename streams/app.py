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
from functools import partial
from typing import Any, Protocol

import faust
import orjson
from faust.serializers import codecs
from faust.types import TP

from gamsi.deadletter import deliver, letter_key, screen
from gamsi.kafka_auth import faust_credentials
from gamsi.schemas.faust_codec import STATE_CODEC_NAME, register
from gamsi.schemas.records import MetricBatch, SeverityEvent
from gamsi.settings import Settings
from gamsi.streams.gaps import Gaps, RangeReader
from gamsi.streams.limits import Limits
from gamsi.streams.metrics import install as install_metrics
from gamsi.streams.outbox import Outbox
from gamsi.streams.recovery_watch import install as install_recovery_watch
from gamsi.streams.transport import TunedApp
from gamsi.streams.workdir import claim as claim_workdir
from gamsi.streams.worker import (
    COUNTERS,
    HostsByPartition,
    Watching,
    dump_state,
    judge_batch,
    run_ticks,
)
from gamsi.topics import replication_factor, ticks_topic

log = logging.getLogger(__name__)

STATE_TABLE = "host-state"
HOST_STATE_CODEC = "gamsi-host-state"
PIPELINE_GAP_TICKS = 3
"""Ticks further apart than this many tick intervals mean the pipeline was not watching."""


class Engine(Protocol):
    def process(self, state: Any, batch: MetricBatch) -> tuple[Any, list[SeverityEvent]]: ...

    def tick(
        self, state: Any, host: str, now: float, watching: bool = True
    ) -> tuple[Any, list[SeverityEvent]]: ...


class EngineHolder:
    """The engine in force; replaced when a policy is applied, read per batch.

    The worker builds the first engine from the applied policy *before* Faust starts
    (see gamsi.streams.service), so agents never wait for it: an agent that awaited
    anything before iterating its stream sometimes never received its partitions
    after a restart (faust-streaming 0.15)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine


def engine_for(settings: Settings, policy: Any, previous: Engine | None = None) -> Engine:
    """The rule engine for ``policy`` with the ``[streams]`` settings; ``previous`` is the
    engine it replaces (so series kept across the change are checked for meaning)."""
    from gamsi.streams.engine import Engine as RuleEngine

    s = settings.streams
    return RuleEngine(
        policy,
        previous=previous,  # type: ignore[arg-type]
        stale_intervals=s.stale_intervals,
        pipeline_gap=PIPELINE_GAP_TICKS * s.tick_interval,
    )


def configured_engine(settings: Settings) -> Engine:
    from gamsi.streams.policy.load import load_policy

    s = settings.streams
    return engine_for(settings, load_policy(s.policy_path or None, s.default_os))


class StateCodec(codecs.Codec):
    """The host-state table's values: engine states in their changelog form (orjson)."""

    def _dumps(self, obj: Any) -> bytes:
        return dump_state(obj)

    def _loads(self, s: bytes) -> Any:
        return orjson.loads(s)


def _register_state_codec() -> str:
    if HOST_STATE_CODEC not in codecs.codecs:
        codecs.register(HOST_STATE_CODEC, StateCodec())
    return HOST_STATE_CODEC


def create_app(
    settings: Settings, engine: Engine | None = None, follow_policy_topic: bool = True
) -> faust.App:
    """Declare topics, the state table, the agents and the timer for these settings."""
    codec = register()
    holder = EngineHolder(engine or configured_engine(settings))
    k = settings.kafka
    worker_name = f"{socket.gethostname()}:{os.getpid()}"
    workdir = claim_workdir(settings.data_dir / "faust")  # one per worker on a host
    app = TunedApp(  # a consumer that never waits 1.5 s for a quiet partition (transport.py)
        settings.streams.app_id,
        broker=[f"kafka://{b.strip()}" for b in k.bootstrap.split(",")],
        broker_credentials=faust_credentials(settings),  # TLS and SASL as configured
        store="memory://",
        web_enabled=False,
        # names this process in the group's member list (kafka-consumer-groups --describe)
        broker_client_id=f"gamsi-streams-{socket.gethostname()}-{os.getpid()}",
        topic_partitions=k.partitions,
        topic_replication_factor=replication_factor(settings),  # as Gamsi's own topics
        consumer_auto_offset_reset="earliest",
        processing_guarantee="at_least_once",
        # No standbys: with the memory store, faust-streaming 0.15 restores a partition it
        # takes over from the changelog's start whatever a standby held, so standbys only
        # cost (every worker reads every changelog). Measured: docs/operations.md.
        table_standby_replicas=0,
        producer_linger_ms=0,
        producer_acks=-1,  # acks=all: on every in-sync replica (faust's default, kept explicit)
        broker_session_timeout=settings.streams.session_timeout,
        broker_heartbeat_interval=min(3.0, settings.streams.session_timeout / 3),
        datadir=str(workdir.path),
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
    # Faust writes table values with the table's own serializer, not the schema's
    state.value_serializer = _register_state_codec()
    hosts = HostsByPartition(state)  # the same table, its hosts indexed by partition for the ticks

    @state.on_recover
    async def reindex() -> None:  # restored from the changelog behind the index's back
        hosts.invalidate()

    limits = Limits.of(settings.streams)
    outbox = Outbox(COUNTERS)  # transitions ride in their record until acknowledged (outbox.py)
    judged_up_to: dict[int, int] = {}  # partition → next metrics offset to judge (this process)
    app.judged_offsets = (k.metrics_topic, judged_up_to)  # what is committed (transport.py)
    gaps = Gaps(RangeReader(settings, k.metrics_topic, settings.streams.app_id), judged_up_to)

    def fetched_end(partition: int) -> tuple[int, float] | None:
        try:
            return app.consumer.fetched_end(TP(k.metrics_topic, partition))  # type: ignore[no-any-return]
        except Exception:  # not assigned yet, or no fetch yet: unknown
            return None

    def done(partition: int) -> int | None:
        if partition in judged_up_to:
            return judged_up_to[partition]
        committed = getattr(app.consumer, "_committed_offset", {})  # faust-streaming 0.15
        return committed.get(TP(k.metrics_topic, partition))

    tick = settings.streams.tick_interval
    # an end offset is evidence when a fetch saw it within the last tick
    watching = Watching(PIPELINE_GAP_TICKS * tick, fetched_end, done, fresh=tick)
    owned: set[int] = set()  # the metrics partitions of this worker's current assignment

    @app.on_partitions_assigned.connect
    async def on_assigned(sender: Any, assigned: set[TP], **kwargs: Any) -> None:
        """Called before the assigned partitions are resumed: a partition this worker did
        not own until now is judged for silence only once it has caught up (docs/rules.md)."""
        now = {tp.partition for tp in assigned if tp.topic == k.metrics_topic}
        log.info(
            "metrics partitions assigned: %s (gained %s, lost %s)",
            sorted(now), sorted(now - owned), sorted(owned - now),
        )  # fmt: skip
        # lost ones forgotten; a new one is judged from the group's committed offset on
        await gaps.assigned(now, set(owned))
        watching.forget(now - owned)
        outbox.prune()
        owned.clear()
        owned.update(now)

    async def send(transition: SeverityEvent) -> Any:
        COUNTERS["transitions"] += 1
        transition.emitted_at = time.time()
        return await events.send(key=transition.host.encode(), value=transition)

    async def emit() -> None:
        """Every transition decided so far (by either agent), in the order decided."""
        await outbox.flush(send)

    async def judge_one(message: Any) -> None:
        judge = partial(
            judge_batch,
            holder.engine,
            hosts,
            partition=message.partition,
            limits=limits,
            outbox=outbox,
        )
        judged, letter = screen(message, judge, worker_name)  # any failure: a dead letter
        if letter is not None:
            await deliver(lambda d: deadletters.send(key=letter_key(d), value=d), letter)
        elif judged is not None:
            COUNTERS["batches"] += 1
            await emit()

    @app.agent(metrics, name="evaluate")
    async def evaluate(stream: faust.Stream) -> None:
        async for event in stream.events():
            message = event.message
            # what Faust dropped before this record is read back and judged first, in
            # order, inside this record's iteration (its changelog partition)
            async for record in gaps.in_order(message.partition, message.offset, message):
                await judge_one(record)

    @app.agent(ticks, name="timers")
    async def timers(stream: faust.Stream) -> None:
        async for event in stream.events():
            partition = event.message.partition
            try:
                now = float(orjson.loads(event.value)["now"])
            except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
                log.warning("ignoring malformed tick %r", event.value)
                continue
            sees = watching(partition, now, time.time())

            def report(host: str, exc: BaseException) -> None:
                log.error("tick failed for host %s (state reset): %r", host, exc)

            run_ticks(holder.engine, hosts, partition, now, sees, report, outbox)
            await emit()  # what the ticks decided (run_ticks returns it too)

    @app.timer(interval=settings.streams.tick_interval, on_leader=True)
    async def send_ticks() -> None:
        body = orjson.dumps({"now": time.time()})
        for partition in range(k.partitions):
            await ticks.send(value=body, partition=partition)

    if follow_policy_topic:

        @app.task
        async def follow() -> None:
            from gamsi.streams.policy.feed import FeedStats, follow_policies

            def swap(policy: Any, source: str) -> None:
                holder.engine = engine_for(settings, policy, holder.engine)

            app.gamsi_policy_feed = FeedStats()  # type: ignore[attr-defined] # bad records
            await follow_policies(settings, swap, stats=app.gamsi_policy_feed)

    ends: dict[int, int] = {}  # partition → its end offset, as the broker last said
    install_metrics(app, settings, judged_up_to, ends)  # /metrics, /health (docs/operations.md)
    # a table restore, or a metrics partition, that Faust stops feeding is fetched again
    install_recovery_watch(app, k.metrics_topic, judged_up_to, ends)
    app.gamsi_engine = holder  # type: ignore[attr-defined]
    app.gamsi_workdir = workdir  # type: ignore[attr-defined] # its lock lives with the app
    app.gamsi_counters = COUNTERS  # type: ignore[attr-defined]
    return app
