"""The notifier service: the events topic in, channels out, the ledger and delivery log beside.

This is the Kafka edge around :class:`gamsi.notifier.pipeline.Pipeline`: a consumer
in its own group (manual commits), a producer with ``acks=all`` for the ledger,
the delivery log and dead letters, and a reader that follows the acks topic.
An offset is committed only after every delivery of its record is in the ledger,
so SIGKILL at any point loses nothing; what is sent twice is bounded by the
ledger's ``pending`` check (see docs/notifications.md, "Exactly once").
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord

from gamsi.deadletter import screen
from gamsi.kafka_auth import kafka_client_options, producer_options
from gamsi.metrics import SelfReport
from gamsi.notifier.ack import parse_ack
from gamsi.notifier.ack_api import start_ack_api
from gamsi.notifier.channels import Channel, load_channel_types
from gamsi.notifier.channels.console import ConsoleChannel
from gamsi.notifier.channels.slack import SlackChannel
from gamsi.notifier.consume import COUNTS, Handover, accept_record, consume
from gamsi.notifier.deliveries import encode_delivery
from gamsi.notifier.ledger import KafkaLedger
from gamsi.notifier.options import get_int
from gamsi.notifier.pipeline import Pipeline, PipelineOptions
from gamsi.notifier.remediation import follow as follow_remediations
from gamsi.notifier.retry import RateLimiter, RetryPolicy
from gamsi.notifier.routing import RoutingConfig, default_routing, load_routing
from gamsi.notifier.secrets import SecretError, Secrets
from gamsi.notifier.selfwatch import start_selfwatch
from gamsi.notifier.silence_store import start_following
from gamsi.settings import ConfigError, Settings
from gamsi.topics import ensure_topics, read_compacted

log = logging.getLogger(__name__)
REBALANCE_TIMEOUT = 60.0
"""Seconds the group waits for a member in a rebalance (it sends what waits in storm
windows before it gives its partitions up); a member that dies is noticed within the
session timeout."""
LIMIT_KEYS = {"rate", "burst"}
__all__ = ["COUNTS", "accept_record", "build_channels", "checked_config", "run_notifier"]


def load_config(settings: Settings) -> RoutingConfig:
    if settings.notifier.routing_file:
        return load_routing(settings.notifier.routing_file)
    return default_routing(slack=bool(settings.notifier.resolved_slack_token()))


def checked_config(settings: Settings) -> RoutingConfig:
    """The routing file of ``settings``, parsed and with every channel built (secrets
    resolved), as at start; raises ConfigError naming the file, line and key. What a
    reload checks before it replaces the routing in force."""
    config = load_config(settings)
    build_channels(config, settings, Secrets())  # sessions open lazily: nothing to close
    return config


def build_channels(
    config: RoutingConfig, settings: Settings, secrets: Secrets
) -> tuple[dict[str, Channel], dict[str, RateLimiter]]:
    """Instantiate every channel of the routing file (or the walking-skeleton default)."""
    types = load_channel_types()
    channels: dict[str, Channel] = {}
    limiters: dict[str, RateLimiter] = {}
    n = settings.notifier
    for name, spec in config.channels.items():
        where = f"{config.source}: channels.{name}"
        options = {k: v for k, v in spec.items() if k not in LIMIT_KEYS}
        kind = options["type"]
        if config.source == "<built-in>" and kind == "slack":
            token = secrets.add(n.resolved_slack_token())
            channels[name] = SlackChannel.from_token(name, token, n.slack_channel, n.slack_base_url)
        elif config.source == "<built-in>":
            channels[name] = ConsoleChannel(name, {}, secrets)
        elif kind not in types:
            known = ", ".join(sorted(types))
            raise ConfigError(
                f"{where}.type: unknown channel type {kind!r}; expected one of {known}"
            )
        else:
            try:
                channels[name] = types[kind](name, options, secrets)
            except SecretError as exc:
                raise ConfigError(f"{config.source}: {exc}") from None
            except ConfigError as exc:
                raise ConfigError(f"{config.source}: {exc}") from None
        rate = spec.get("rate", 0)
        if isinstance(rate, bool) or not isinstance(rate, int | float) or rate < 0:
            raise ConfigError(f"{where}.rate: expected messages per second (a number >= 0)")
        limiters[name] = RateLimiter(float(rate), get_int(spec, "burst", where, 1))
    return channels, limiters


class KafkaSink:
    def __init__(self, producer: AIOKafkaProducer, topic: str) -> None:
        self._producer, self._topic = producer, topic
        self.counts: Counter[tuple[str, str]] = Counter()  # (channel, result): /metrics

    async def publish(self, records: list[dict[str, Any]]) -> None:
        self.counts.update((str(r["channel"]), str(r["result"])) for r in records)
        futures = [
            await self._producer.send(
                self._topic, encode_delivery(r), key=str(r["event_id"]).encode()
            )
            for r in records
        ]
        await asyncio.gather(*futures)


def _apply_ack(record: ConsumerRecord[bytes, bytes], pipeline: Pipeline) -> bool:
    """Apply one record of the acks topic; never raises (a bad ack is logged and skipped:
    no record may stop the notifier). Returns whether it changed a problem."""

    def apply(value: bytes) -> bool:
        ack = parse_ack(value)
        return bool(ack and pipeline.acknowledge(ack))

    changed, refused = screen(record, apply, "notifier-acks")
    if refused is not None:
        log.error("ack at offset %d skipped: %s", record.offset, refused.reason)
    return bool(changed)


async def _follow_acks(consumer: AIOKafkaConsumer, pipeline: Pipeline) -> None:
    async for record in consumer:
        if _apply_ack(record, pipeline):
            ack = parse_ack(record.value or b"") or {}
            what = "withdrawn" if ack.get("undo") else f"acknowledged by {ack.get('by')}"
            log.info("%s: %s", ack.get("event_id"), what)


async def _replay_acks(consumer: AIOKafkaConsumer, topic: str, pipeline: Pipeline) -> None:
    def apply(record: ConsumerRecord[bytes, bytes]) -> None:
        _apply_ack(record, pipeline)

    await read_compacted(consumer, topic, apply)


async def run_notifier(
    settings: Settings, stop: asyncio.Event | None = None, config: RoutingConfig | None = None
) -> None:
    """Consume severity events and notify until ``stop`` is set (then flush and commit).

    ``config``: the routing to use (a reload passes the last one that validated); None
    reads ``[notifier] routing_file`` (or the built-in default).
    """
    stop = stop or asyncio.Event()
    n = settings.notifier
    secrets = Secrets()
    redact = secrets.log_filter()
    for handler in logging.getLogger().handlers:
        handler.addFilter(redact)
    config = config or load_config(settings)
    log.info("routing from %s", config.source)
    channels, limiters = build_channels(config, settings, secrets)
    await ensure_topics(settings)
    producer = AIOKafkaProducer(**producer_options(settings))
    acks = AIOKafkaConsumer(
        **kafka_client_options(settings), group_id=None, enable_auto_commit=False
    )
    consumer = AIOKafkaConsumer(
        **kafka_client_options(settings),
        group_id=n.group_id,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        session_timeout_ms=int(n.session_timeout * 1000),
        heartbeat_interval_ms=int(n.session_timeout * 1000 / 3),
        # a member may take this long in a rebalance callback (sending what waits)
        rebalance_timeout_ms=int(max(n.session_timeout, REBALANCE_TIMEOUT) * 1000),
    )
    follower: asyncio.Task[None] | None = None
    remedies: asyncio.Task[None] | None = None
    silenced: asyncio.Task[None] | None = None
    api = None
    report = SelfReport(settings, "notifier", n.group_id)  # /metrics, /health: ack API
    watcher: asyncio.Task[None] | None = None
    await producer.start()
    try:
        await report.start()
        api = await start_ack_api(settings, report)
        ledger = KafkaLedger(settings, producer)  # read on each partition assignment
        options = PipelineOptions(
            storm_window=n.storm_window,
            dashboard_url=n.dashboard_url,
            policy=RetryPolicy(attempts=n.retry_attempts, first_delay=n.retry_delay),
            ledger_keep=n.ledger_keep,
        )
        sink = KafkaSink(producer, n.delivery_topic)
        pipeline = Pipeline(config, channels, limiters, ledger, sink, options)
        pipeline.ownership.revoke()  # nothing is this notifier's before the first assignment
        await acks.start()
        await _replay_acks(acks, n.acks_topic, pipeline)
        follower = asyncio.create_task(_follow_acks(acks, pipeline))
        remedies = asyncio.create_task(follow_remediations(settings, pipeline.remediation))
        # the silences in force apply from the first event on
        silenced = await start_following(settings, pipeline.silences)
        watcher = start_selfwatch(settings, report, pipeline, sink, consumer, COUNTS, stop)
        topic = settings.kafka.events_topic
        handover = Handover(consumer, pipeline, ledger, topic, settings.kafka.partitions)
        consumer.subscribe([topic], listener=handover)
        await consumer.start()
        try:
            await consume(settings, consumer, producer, pipeline, handover, stop)
        finally:
            await consumer.stop()
    finally:
        for task in (follower, remedies, silenced, watcher):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        if api is not None:
            await api.cleanup()
        await report.close()
        await acks.stop()
        await producer.stop()
        for channel in channels.values():
            await channel.close()
        for handler in logging.getLogger().handlers:
            handler.removeFilter(redact)
