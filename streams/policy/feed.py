"""Live policy changes: publish a validated policy, and follow the policy topic.

`gamsi policy apply FILE` validates the file exactly as a worker would load it and
publishes the resolved policy (defaults included) to a compacted one-partition
topic under a fixed key, so the topic always holds the current policy. Every
stream worker reads that topic from the beginning without a consumer group —
each must see every policy, not a share of them — and swaps its engine when a
new one arrives. A record a worker cannot read is logged and skipped: the
previous policy stays in force, which is the safe choice for a monitoring system.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import KafkaError

from gamsi.settings import Settings
from gamsi.streams.policy.dump import policy_to_dict
from gamsi.streams.policy.errors import PolicyError
from gamsi.streams.policy.load import load_policy
from gamsi.streams.policy.model import Policy
from gamsi.streams.policy.parse import policy_from_plain

log = logging.getLogger(__name__)

POLICY_KEY = b"policy"


def policy_record(policy: Policy, source: str) -> bytes:
    return orjson.dumps(
        {
            "v": 1,
            "kind": "policy",
            "source": source,
            "applied_at": time.time(),
            "policy": policy_to_dict(policy),
        }
    )


def read_policy_record(data: bytes) -> tuple[Policy, str]:
    body = orjson.loads(data)
    if not isinstance(body, dict) or body.get("kind") != "policy" or body.get("v") != 1:
        raise PolicyError("<policy topic>", "", "expected a version 1 policy record")
    return policy_from_plain(body["policy"], f"<applied {body.get('source', '?')}>"), str(
        body.get("source", "")
    )


async def apply_policy(settings: Settings, path: str | Path) -> Policy:
    """Validate (raises PolicyError naming file and key) and publish; returns the policy."""
    policy = load_policy(path, settings.streams.default_os)
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka.bootstrap, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(
            settings.kafka.policies_topic, policy_record(policy, str(path)), key=POLICY_KEY
        )
    finally:
        await producer.stop()
    return policy


async def current_policy(settings: Settings, within: float = 5.0) -> tuple[Policy, str] | None:
    """The last applied policy, or None if none was applied or Kafka does not answer
    within ``within`` seconds (then the caller falls back to the configured policy)."""
    tp = TopicPartition(settings.kafka.policies_topic, 0)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka.bootstrap,
        group_id=None,
        enable_auto_commit=False,
        request_timeout_ms=int(within * 1000),
    )
    try:
        await asyncio.wait_for(consumer.start(), within)
        end = (await asyncio.wait_for(consumer.end_offsets([tp]), within))[tp]
        if end == 0:
            return None
        consumer.assign([tp])
        consumer.seek(tp, end - 1)
        batch = await consumer.getmany(tp, timeout_ms=int(within * 1000))
        messages = batch.get(tp, [])
        return read_policy_record(messages[-1].value) if messages else None
    except (TimeoutError, KafkaError, OSError) as exc:
        log.info("no applied policy read from Kafka (%s); using the configured one", exc)
        return None
    finally:
        await consumer.stop()


async def follow_policies(
    settings: Settings,
    on_policy: Callable[[Policy, str], Any],
    caught_up: asyncio.Event | None = None,
) -> None:
    """Call ``on_policy`` for each applied policy, forever; set ``caught_up`` (if given) once the
    records present at start have been read (so no batch is judged by a stale policy)."""
    caught_up = caught_up or asyncio.Event()
    tp = TopicPartition(settings.kafka.policies_topic, 0)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka.bootstrap, group_id=None, enable_auto_commit=False
    )
    await consumer.start()
    try:
        consumer.assign([tp])
        await consumer.seek_to_beginning(tp)
        end = (await consumer.end_offsets([tp]))[tp]
        if end == 0:
            caught_up.set()
            log.info("no applied policy on %s: the configured policy is in force", tp.topic)
        while True:
            for messages in (await consumer.getmany(tp, timeout_ms=1000)).values():
                for message in messages:
                    try:
                        policy, source = read_policy_record(message.value)
                    except (PolicyError, orjson.JSONDecodeError, KeyError, TypeError) as exc:
                        log.error("unreadable policy at offset %d: %s", message.offset, exc)
                    else:
                        on_policy(policy, source)
                        log.info("policy from %s in force (offset %d)", source, message.offset)
            if not caught_up.is_set() and await consumer.position(tp) >= end:
                caught_up.set()
    finally:
        await consumer.stop()
