"""Live policy changes: publish a validated policy, and follow the policy topic.

`gamsi policy apply FILE` validates the file exactly as a worker would load it and
publishes the resolved policy (defaults included) to a compacted one-partition
topic under a fixed key, so the topic always holds the current policy. Every
stream worker reads that topic from the beginning without a consumer group —
each must see every policy, not a share of them — and swaps its engine when a
new one arrives.

Anyone who can write to the topic can put anything on it, so reading a record is
total: a record that is not a valid policy (not JSON, not a version 1 policy record,
a policy that does not validate, a tombstone) is logged with its offset and counted
in :class:`FeedStats`, and the last good policy stays in force — the safe choice
for a monitoring system. A worker that starts while the latest record is bad takes
the last good one before it (or, once compaction has removed it, the configured
policy); a valid policy published on top is taken as usual.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.errors import KafkaError

from gamsi.kafka_auth import kafka_client_options, producer_options
from gamsi.settings import Settings
from gamsi.streams.policy.checks import watches_nothing
from gamsi.streams.policy.dump import policy_to_dict
from gamsi.streams.policy.errors import PolicyError
from gamsi.streams.policy.load import load_policy
from gamsi.streams.policy.model import Policy
from gamsi.streams.policy.parse import policy_from_plain
from gamsi.streams.policy.values import show
from gamsi.topics import read_compacted

log = logging.getLogger(__name__)

POLICY_KEY = b"policy"
TOPIC_SOURCE = "<policy topic>"


@dataclass(slots=True)
class FeedStats:
    """Self-monitoring counters of one reader of the policy topic."""

    applied: int = 0
    """Policies taken into force."""
    bad_records: int = 0
    """Records that were not a valid policy and were skipped (the previous policy stayed)."""
    last_error: str = ""
    """``offset N: reason`` of the last bad record."""
    source: str = ""
    """Where the policy in force came from (the file `gamsi policy apply` read)."""
    offset: int = -1
    """Its offset on the policy topic (-1: none taken yet)."""


def policy_record(
    policy: Policy, source: str, applied_at: float | None = None, allow_empty: bool = False
) -> bytes:
    """The record `gamsi policy apply` publishes: a version 1 envelope around the policy.

    ``applied_at`` defaults to now (seconds since the epoch). ``allow_empty`` marks a policy
    that disables every watch as intended (``apply --allow-empty``); without it a worker
    refuses such a policy like any bad record.
    """
    body = {
        "v": 1,
        "kind": "policy",
        "source": source,
        "applied_at": time.time() if applied_at is None else applied_at,
        "policy": policy_to_dict(policy),
    }
    return orjson.dumps({**body, "allow_empty": True} if allow_empty else body)


def read_policy_record(data: bytes | None) -> tuple[Policy, str]:
    """(policy, where it was applied from) from one record of the policy topic.

    Raises :class:`PolicyError` (one line, never another exception) for anything that
    is not a valid version 1 policy record.
    """
    try:
        body = orjson.loads(data) if data is not None else None
        if not isinstance(body, dict) or body.get("kind") != "policy" or body.get("v") != 1:
            raise PolicyError(TOPIC_SOURCE, "", "expected a version 1 policy record")
        if not isinstance(body.get("policy"), dict):
            raise PolicyError(TOPIC_SOURCE, "policy", "expected the policy as a mapping")
        source = body.get("source", "?")
        source = source if isinstance(source, str) else show(source)
        policy = policy_from_plain(body["policy"], f"<applied {source[:200]}>")
        if body.get("allow_empty") is not True and watches_nothing(policy):
            raise PolicyError(
                TOPIC_SOURCE,
                "policy",
                "expected at least one enabled watch (a policy that silences every host "
                "needs allow_empty: `gamsi policy apply --allow-empty`)",
            )
        return policy, source
    except PolicyError:
        raise
    except orjson.JSONDecodeError as exc:
        raise PolicyError(TOPIC_SOURCE, "", f"expected JSON ({exc})") from None
    except Exception as exc:  # a record must never stop a worker: any failure is "bad record"
        raise PolicyError(TOPIC_SOURCE, "", f"unreadable ({type(exc).__name__})") from None


def _skip(stats: FeedStats, offset: int, exc: Exception) -> None:
    stats.bad_records += 1
    stats.last_error = f"offset {offset}: {exc}"
    log.error(
        "policy topic: record at offset %d skipped, the previous policy stays in force "
        "(%d bad records so far): %s",
        offset,
        stats.bad_records,
        exc,
    )


async def publish_policy(
    settings: Settings, policy: Policy, source: str, allow_empty: bool = False
) -> None:
    """Put ``policy`` in force: publish it to the policy topic under the one fixed key
    (``allow_empty``: see :func:`policy_record`)."""
    producer = AIOKafkaProducer(**producer_options(settings))
    try:
        await producer.start()
        await producer.send_and_wait(
            settings.kafka.policies_topic,
            policy_record(policy, source, allow_empty=allow_empty),
            key=POLICY_KEY,
        )
    finally:
        await producer.stop()


async def apply_policy(settings: Settings, path: str | Path) -> Policy:
    """Load ``path`` (raises PolicyError naming file and key) and publish it; returns it."""
    policy = load_policy(path, settings.streams.default_os)
    await publish_policy(settings, policy, str(path))
    return policy


async def current_policy(
    settings: Settings, within: float = 5.0, stats: FeedStats | None = None
) -> tuple[Policy, str] | None:
    """The last *valid* applied policy, or None if none was applied (or none is readable),
    or Kafka does not answer within ``within`` seconds; the caller then falls back to the
    configured policy. Bad records are skipped and counted in ``stats``."""
    stats = stats or FeedStats()
    found: list[tuple[Policy, str]] = []

    def take(record: Any) -> None:
        try:
            found[:] = [read_policy_record(record.value)]
        except PolicyError as exc:
            _skip(stats, record.offset, exc)

    consumer = AIOKafkaConsumer(
        **kafka_client_options(settings),
        group_id=None,
        enable_auto_commit=False,
        request_timeout_ms=int(within * 1000),
    )
    try:
        await asyncio.wait_for(consumer.start(), within)
        await asyncio.wait_for(
            read_compacted(consumer, settings.kafka.policies_topic, take), within * 6
        )
    except (TimeoutError, KafkaError, OSError) as exc:
        log.info("no applied policy read from Kafka (%s); using the configured one", exc)
        return None
    finally:
        await consumer.stop()
    if not found and stats.bad_records:
        log.warning(
            "no valid policy on %s (%d bad records): the configured policy is in force",
            settings.kafka.policies_topic,
            stats.bad_records,
        )
    return found[-1] if found else None


async def follow_policies(
    settings: Settings,
    on_policy: Callable[[Policy, str], Any],
    caught_up: asyncio.Event | None = None,
    stats: FeedStats | None = None,
) -> None:
    """Call ``on_policy`` for each valid applied policy, forever; set ``caught_up`` (if given)
    once the records present at start have been read (so no batch is judged by a stale
    policy). A bad record, or an ``on_policy`` that raises, is logged and counted in
    ``stats``; the policy in force stays."""
    stats = stats if stats is not None else FeedStats()

    def take(record: Any) -> None:
        try:
            policy, source = read_policy_record(record.value)
            on_policy(policy, source)
        except Exception as exc:  # never let one record stop the worker
            _skip(stats, record.offset, exc)
        else:
            stats.applied += 1
            stats.source, stats.offset = source, record.offset
            log.info("policy from %s in force (offset %d)", source, record.offset)

    consumer = AIOKafkaConsumer(
        **kafka_client_options(settings), group_id=None, enable_auto_commit=False
    )
    try:
        await consumer.start()
        await read_compacted(
            consumer, settings.kafka.policies_topic, take, follow=True, caught_up=caught_up
        )
    finally:
        await consumer.stop()
