"""Every topic Gamsi uses, declared once, with its partitions, retention and cleanup.

:func:`topic_specs` is the one list: every service ensures exactly that list on
start (:func:`ensure_topics`), so the order in which services come up does not
matter, no topic is ever auto-created with the broker's default partition
count, and two services can never disagree on a topic's retention (the
deliveries topic used to be declared by the notifier with 30 days and by the
history writer with 7; whichever started first won).

:func:`read_compacted` is the one reader of a compacted topic (policies, the
notifier's ledger, acknowledgements, silences): it reads from the beginning to the end
that the topic had when it was called, and can then follow it.

Replication: ``[kafka] replication = 0`` (the default) means "as many copies as the
cluster allows, up to 3", resolved by :func:`ensure_topics` from the brokers the
cluster's metadata lists (:func:`resolve_replication`); with 3 or more copies every
topic gets ``min.insync.replicas=2``, so a write acknowledged with ``acks=all`` is on
two brokers and survives the loss of any one (Kafka's documented production setting,
"Replication" in the Kafka docs). The stream workers' Faust app creates its
changelog topic with the same factor (:func:`replication_factor`).

Retention, for the record: samples are judged within seconds and kept in
ClickHouse, so the metrics topic keeps one day (enough to replay an outage of
the stream workers); events, deliveries and dead letters keep 30 days (what an
operator may still want to re-read or re-ingest); the ticks topic one hour.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaConnectionError, KafkaError
from aiokafka.protocol.metadata import MetadataRequest

from gamsi.kafka_auth import kafka_client_options
from gamsi.kafka_setup import replication_for, run_sync
from gamsi.settings import ConfigError, Settings

DAY_MS = 86_400_000
DEFAULT_DELIVERIES_TOPIC = "gamsi.deliveries"


@dataclass(frozen=True)
class TopicSpec:
    """One topic: its name, partition count, replication factor and topic configs."""

    name: str
    partitions: int
    replication: int
    config: dict[str, str] = field(default_factory=dict)


def deliveries_topic(settings: Settings) -> str:
    """[history] deliveries_topic, else the notifier's delivery_topic, else the default."""
    return (
        settings.history.deliveries_topic
        or settings.notifier.delivery_topic
        or DEFAULT_DELIVERIES_TOPIC
    )


def ticks_topic(settings: Settings) -> str:
    """The stream workers' timer topic, co-partitioned with the metrics topic."""
    return f"{settings.streams.app_id}-ticks"


def changelog_topic(settings: Settings) -> str:
    """The stream workers' host-state changelog (Faust names it ``<app id>-<table>-changelog``;
    the table is gamsi.streams.app.STATE_TABLE). Declared here so that it exists before the
    first worker starts: faust-streaming 0.15 creates it at start, and on a cluster a worker
    whose metadata missed the new topic dead-lettered every batch (PartitionsMismatch: the
    changelog "has 0 partitions"; seen with one worker on three brokers)."""
    return f"{settings.streams.app_id}-host-state-changelog"


def resolve_replication(configured: int, brokers: int, bootstrap: str = "") -> int:
    """The replication factor of Gamsi's topics on a cluster listing ``brokers`` brokers.

    ``configured`` 0 (automatic) gives ``min(3, brokers)``; another value is used as
    given. Raises ConfigError when it exceeds ``brokers`` (Kafka would refuse each
    topic with INVALID_REPLICATION_FACTOR)."""
    if configured == 0:
        return replication_for(brokers)[0]
    if configured > brokers:
        at = f" at {bootstrap}" if bootstrap else ""
        raise ConfigError(
            f"[kafka] replication: {configured} copies, but the cluster{at} has {brokers} "
            f"broker(s); set at most {brokers}, or 0 for automatic"
        )
    return configured


def topic_specs(settings: Settings, replication: int | None = None) -> list[TopicSpec]:
    """Every topic of these settings; the one place a topic is declared.

    ``replication``: the resolved factor (:func:`resolve_replication`); without it the
    configured ``[kafka] replication`` is used, which is 0 when automatic (enough for
    names and partitions; :func:`ensure_topics` resolves it before creating)."""
    k, n = settings.kafka, settings.notifier
    keyed = k.partitions
    r = k.replication if replication is None else replication
    isr = {"min.insync.replicas": str(replication_for(r)[1])} if r > 0 else {}

    def days(d: int) -> dict[str, str]:
        return {**isr, "retention.ms": str(d * DAY_MS)}

    compact = {**isr, "cleanup.policy": "compact"}
    return [
        # Keyed by host: the partition count bounds how many workers share the load.
        TopicSpec(k.metrics_topic, keyed, r, days(1)),
        # The broker's append time on events: lag and pipeline latency read off the topic.
        TopicSpec(
            k.events_topic, keyed, r, {**days(30), "message.timestamp.type": "LogAppendTime"}
        ),
        TopicSpec(ticks_topic(settings), keyed, r, {**isr, "retention.ms": str(3600_000)}),
        TopicSpec(changelog_topic(settings), keyed, r, compact),  # one host state per key
        TopicSpec(k.deadletter_topic, 1, r, days(30)),
        TopicSpec(deliveries_topic(settings), keyed, r, days(30)),
        # Recovery commands keyed by host (each agent reads its host's partition alone; a
        # command expires within minutes) and every remediation decision and result.
        TopicSpec(settings.remediator.commands_topic, keyed, r, days(1)),
        TopicSpec(settings.remediator.results_topic, keyed, r, days(30)),
        # One partition, compacted: read whole by every reader; the latest value per key wins.
        TopicSpec(k.policies_topic, 1, r, compact),
        TopicSpec(n.acks_topic, 1, r, compact),
        TopicSpec(n.silences_topic, 1, r, compact),
        TopicSpec(
            n.ledger_topic,
            1,
            r,
            {**compact, "min.compaction.lag.ms": "60000", "segment.ms": str(6 * 3600_000)},
        ),
    ]


async def ensure_topics(settings: Settings) -> list[str]:
    """Create the topics of :func:`topic_specs` that are missing; returns the names created.

    The replication factor is resolved here, once, from the brokers the cluster's
    metadata lists (:func:`resolve_replication`) and remembered for
    :func:`replication_factor`. Raises KafkaError (or a subclass) when the broker does
    not answer or refuses, ConfigError when ``[kafka] replication`` exceeds the brokers.
    """
    admin = AIOKafkaAdminClient(**kafka_client_options(settings))
    await admin.start()
    try:
        nodes = [b["node_id"] for b in (await admin.describe_cluster())["brokers"]]
        r = resolve_replication(settings.kafka.replication, len(nodes), settings.kafka.bootstrap)
        _resolved[settings.kafka.bootstrap] = r
        specs = topic_specs(settings, r)
        existing = set(await admin.list_topics())
        missing = [s for s in specs if s.name not in existing]
        if missing:
            await admin.create_topics(
                [
                    NewTopic(s.name, s.partitions, s.replication, topic_configs=s.config)
                    for s in missing
                ]
            )
        await _wait_topics_visible(admin, {s.name for s in specs}, nodes)
        return [s.name for s in missing]
    finally:
        await admin.close()


_resolved: dict[str, int] = {}  # bootstrap -> the factor ensure_topics resolved there


def replication_factor(settings: Settings) -> int:
    """The replication factor of ``settings``' topics, for clients that create topics of
    their own (the stream workers' Faust app: its changelog topic): ``[kafka]
    replication`` when set, else the value :func:`ensure_topics` resolved in this
    process, else resolved now from the cluster's metadata (a blocking request)."""
    k = settings.kafka
    if k.replication > 0:
        return k.replication
    if k.bootstrap not in _resolved:

        async def count() -> int:
            admin = AIOKafkaAdminClient(**kafka_client_options(settings))
            await admin.start()
            try:
                return len((await admin.describe_cluster())["brokers"])
            finally:
                await admin.close()

        _resolved[k.bootstrap] = resolve_replication(0, run_sync(count))
    return _resolved[k.bootstrap]


async def all_partitions(consumer: AIOKafkaConsumer, topic: str) -> list[TopicPartition]:
    """Every partition of ``topic``, from a fresh metadata request.

    A consumer without a subscription knows no partitions until it asks, and
    ``consumer.topics()`` does not keep the answer; aiokafka (pinned <0.15) has no
    public call that does, so the client's own metadata fetch is used.
    """
    cluster = await consumer._client.fetch_all_metadata()
    parts = cluster.partitions_for_topic(topic) or {0}
    return [TopicPartition(topic, p) for p in sorted(parts)]


async def read_compacted(
    consumer: AIOKafkaConsumer,
    topic: str,
    on_record: Callable[[ConsumerRecord[bytes, bytes]], Awaitable[Any] | Any],
    *,
    follow: bool = False,
    caught_up: asyncio.Event | None = None,
    poll_ms: int = 1000,
) -> int:
    """Read ``topic`` from its beginning, calling ``on_record`` for every record.

    ``consumer`` is a started consumer without a group (``group_id=None``); it is
    assigned every partition of the topic. Without ``follow`` this returns once
    the end offsets seen at the call have been reached, with the number of
    records read; with ``follow`` it keeps reading until cancelled. ``caught_up``
    (if given) is set once those end offsets are reached, so a caller can wait
    until what was there at start has been applied. ``on_record`` may be a plain
    function or a coroutine function; a tombstone has ``record.value is None``.
    """
    partitions = await all_partitions(consumer, topic)
    consumer.assign(partitions)
    await consumer.seek_to_beginning(*partitions)
    end = await consumer.end_offsets(partitions)
    remaining = {tp for tp in partitions if end[tp] > 0}
    count = 0
    while True:
        if not remaining:
            if caught_up is not None:
                caught_up.set()
            if not follow:
                return count
        batch = await consumer.getmany(*partitions, timeout_ms=poll_ms)
        for records in batch.values():
            for record in records:
                count += 1
                result = on_record(record)
                if asyncio.iscoroutine(result):
                    await result
        for tp in list(remaining):
            if await consumer.position(tp) >= end[tp]:
                remaining.discard(tp)


async def metadata_of_each(
    admin: AIOKafkaAdminClient, nodes: Iterable[int], topics: list[str] | None = None
) -> dict[int, dict[str, Any]]:
    """Each broker's own answer to a metadata request: node id → the response as a dict
    (``brokers``; ``topics``, each with ``partitions`` giving ``leader``, ``replicas``,
    ``isr``). ``topics``: None for every topic, [] for none (the brokers only).

    Brokers learn what the controller decided (a topic created, a replica back in sync)
    from the metadata log, each a moment after the others, so one broker's answer says
    nothing about what a client sent to another is told. aiokafka's admin calls ask one
    node of their choosing and have no public call for a given node, hence the admin
    client's own ``_send_request_to_node`` (aiokafka 0.14). Raises KafkaError when a
    node cannot be reached.
    """
    answers = {}
    for node in sorted(nodes):
        response = await admin._send_request_to_node(node, MetadataRequest(topics))
        answers[node] = response.to_object()
    return answers


async def _wait_topics_visible(
    admin: AIOKafkaAdminClient, names: set[str], brokers: list[int], within: float = 30.0
) -> None:
    """Wait until every broker in ``brokers`` (node ids) answers a metadata request for
    ``names`` with each topic known and every partition led.

    Creation is acknowledged by the controller; each broker learns of the topic from
    the metadata log a moment later. Asking one broker is not enough on a cluster: a
    client sent to another right after (a worker's first fetch, an admin describe) is
    told the topic does not exist (seen on three brokers: ``describe_topics`` empty
    right after ``create_topics``). Raises KafkaError after ``within`` seconds.
    """
    deadline = time.monotonic() + within
    waiting = list(brokers)
    while True:
        answers = await metadata_of_each(admin, waiting, sorted(names))
        pending = [
            node
            for node, answer in answers.items()
            if not names
            <= {
                t["topic"]
                for t in answer["topics"]
                if t["error_code"] == 0
                and t["partitions"]
                and all(p["leader"] >= 0 for p in t["partitions"])
            }
        ]
        if not pending:
            return
        if time.monotonic() > deadline:
            raise KafkaError(
                f"topics {sorted(names)} were created but brokers {pending} never listed "
                f"all of them with a leader within {within:g} s"
            )
        waiting = pending
        await asyncio.sleep(0.1)


async def wait_for_kafka(
    bootstrap: str, within: float, options: dict[str, Any] | None = None
) -> None:
    """Wait until the broker answers a metadata request (an open port is not enough).

    ``options``: the clients' connection options (TLS, SASL) from
    :func:`gamsi.kafka_auth.kafka_client_options`; without them, plaintext to ``bootstrap``.
    """
    deadline = time.monotonic() + within
    last: Exception | None = None
    while time.monotonic() < deadline:
        admin = AIOKafkaAdminClient(
            **(options or {"bootstrap_servers": bootstrap}), request_timeout_ms=5000
        )
        try:
            await admin.start()
            await admin.list_topics()
            return
        except (KafkaConnectionError, KafkaError, OSError) as exc:
            last = exc
        finally:
            await admin.close()
        await asyncio.sleep(0.3)
    raise TimeoutError(f"Kafka at {bootstrap} did not answer within {within:.0f} s: {last}")


def wait_for_kafka_sync(bootstrap: str, timeout: float) -> None:
    asyncio.run(wait_for_kafka(bootstrap, timeout))
