"""Reading the audit rows of the results topic from a point in time: the one reader.

The remediator rebuilds its state from it at start and then follows it for results,
the notifier follows it for recovery notices, and `gamsi remediate log` prints it. The
topic is not compacted (every row is kept for its retention), so readers start at the
offsets Kafka gives for a timestamp (``offsets_for_times``) rather than the beginning.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiokafka import AIOKafkaConsumer

from gamsi.remediator.records import Remediation, decode_remediation
from gamsi.schemas.codec import DecodeError
from gamsi.topics import all_partitions

log = logging.getLogger(__name__)


async def read_rows(
    consumer: AIOKafkaConsumer,
    topic: str,
    since: float,
    on_row: Callable[[Remediation], Awaitable[Any] | Any],
    *,
    follow: bool = False,
    caught_up: asyncio.Event | None = None,
) -> int:
    """Call ``on_row`` for every row of ``topic`` written at or after ``since`` (s since
    the epoch); returns the count once the end seen at the call is reached, or with
    ``follow`` keeps reading until cancelled. ``caught_up`` is set at that end. A row
    that does not decode is logged and skipped. ``consumer`` is started, without a group.
    """
    parts = await all_partitions(consumer, topic)
    consumer.assign(parts)
    found = await consumer.offsets_for_times(dict.fromkeys(parts, int(since * 1000)))
    end = await consumer.end_offsets(parts)
    for tp in parts:
        consumer.seek(tp, found[tp].offset if found[tp] else end[tp])
    behind = set(parts)
    count = 0
    while True:
        behind = {tp for tp in behind if await consumer.position(tp) < end[tp]}
        if not behind:
            if caught_up is not None:
                caught_up.set()
            if not follow:
                return count
        for messages in (await consumer.getmany(*parts, timeout_ms=1000)).values():
            for message in messages:
                try:
                    row = decode_remediation(message.value or b"")
                except DecodeError as exc:
                    log.warning("unreadable row at %s@%d: %s", topic, message.offset, exc)
                    continue
                count += 1
                result = on_row(row)
                if asyncio.iscoroutine(result):
                    await result
