"""Acknowledgement: `gamsi ack EVENT` and :func:`acknowledge`, the API behind it.

An acknowledgement is a record on the acks topic (compacted, keyed by event id):
any process can write one, and the notifier reads the topic from the start at
boot and then follows it. An acknowledged problem gets no more re-notifications
or escalation steps, and later messages about it (its recovery) say who
acknowledged it.
"""

from __future__ import annotations

import getpass
import time
from typing import Any

import orjson
from aiokafka import AIOKafkaProducer

from gamsi.schemas.records import SCHEMA_VERSION
from gamsi.settings import Settings
from gamsi.topics import ensure_topics


def ack_record(event_id: str, by: str, at: float, comment: str = "") -> dict[str, Any]:
    return {
        "v": SCHEMA_VERSION,
        "kind": "ack",
        "event_id": event_id,
        "by": by,
        "at": at,
        "comment": comment,
    }


def parse_ack(data: bytes) -> dict[str, Any] | None:
    """A valid ack record, or None (a malformed ack is ignored, never fatal)."""
    try:
        body = orjson.loads(data)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(body, dict) or body.get("kind") != "ack":
        return None
    if not isinstance(body.get("event_id"), str) or not isinstance(body.get("by"), str):
        return None
    if not isinstance(body.get("at"), int | float):
        return None
    return body


async def acknowledge(
    settings: Settings, event_id: str, by: str = "", comment: str = "", at: float | None = None
) -> dict[str, Any]:
    """Acknowledge the problem ``event_id`` belongs to; returns the record written."""
    if not event_id:
        raise ValueError("event id must not be empty")
    record = ack_record(
        event_id, by or getpass.getuser(), time.time() if at is None else at, comment
    )
    await ensure_topics(settings)
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka.bootstrap, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(
            settings.notifier.acks_topic, orjson.dumps(record), key=event_id.encode()
        )
    finally:
        await producer.stop()
    return record
