"""Gamsi's topics, created explicitly with their partition counts and configs.

Every service calls :func:`ensure_topics` on start, so the order in which
services come up does not matter and no topic is ever auto-created with the
broker's default partition count.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaConnectionError, KafkaError

from gamsi.settings import Settings


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    replication: int
    config: dict[str, str] = field(default_factory=dict)


def topic_specs(settings: Settings) -> list[TopicSpec]:
    k = settings.kafka
    return [
        TopicSpec(
            k.metrics_topic, k.partitions, k.replication, {"retention.ms": str(24 * 3600_000)}
        ),
        TopicSpec(
            k.events_topic, k.partitions, k.replication, {"retention.ms": str(30 * 86400_000)}
        ),
        TopicSpec(k.deadletter_topic, 1, k.replication, {"retention.ms": str(30 * 86400_000)}),
        # One partition, compacted: every worker reads it whole; the latest policy wins.
        TopicSpec(k.policies_topic, 1, k.replication, {"cleanup.policy": "compact"}),
    ]


async def ensure_topics(settings: Settings, specs: list[TopicSpec] | None = None) -> list[str]:
    """Create the topics that are missing; returns the names created."""
    specs = topic_specs(settings) if specs is None else specs
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka.bootstrap)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [s for s in specs if s.name not in existing]
        if missing:
            await admin.create_topics(
                [
                    NewTopic(s.name, s.partitions, s.replication, topic_configs=s.config)
                    for s in missing
                ]
            )
        await _wait_topics_visible(admin, {s.name for s in specs})
        return [s.name for s in missing]
    finally:
        await admin.close()


async def _wait_topics_visible(admin: AIOKafkaAdminClient, names: set[str]) -> None:
    for _ in range(100):
        if names <= set(await admin.list_topics()):
            return
        await asyncio.sleep(0.1)
    raise KafkaError(f"topics {sorted(names)} were created but never became visible")


async def wait_for_kafka(bootstrap: str, within: float) -> None:
    """Wait until the broker answers a metadata request (an open port is not enough)."""
    deadline = time.monotonic() + within
    last: Exception | None = None
    while time.monotonic() < deadline:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=5000)
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
