"""Build a :class:`FleetStatus` from history plus the events and acks topics.

The page (and ``gamsi status``) must show the same picture after a restart and
whether history is chDB or a ClickHouse server, so the state is never kept on
disk: it is rebuilt from what the pipeline already keeps.

* history gives the inventory (every host's OS, tags and the series it reports,
  seeded NORMAL where a watch covers them) and the latest event per series;
* the events topic gives what history has not stored yet: it is read from the
  offsets at ``newest history event - REPLAY_MARGIN`` (Kafka's offsets-for-times),
  so events in flight to history are not missed and old ones are not re-read;
* the acks topic (compacted, read whole) marks acknowledged problems.

Without a history store (or when it does not answer) the events topic is read from
its beginning instead: slower on a large fleet, never wrong.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRecord

from gamsi.history.reports import Run
from gamsi.kafka_auth import kafka_client_options
from gamsi.schemas.codec import DecodeError, decode_severity_event
from gamsi.settings import Settings
from gamsi.topics import all_partitions, read_compacted
from gamsi.web.status import LATEST_EVENTS_SQL, FleetStatus, history_event

log = logging.getLogger(__name__)

#: Seconds of the events topic re-read before the newest event history holds.
REPLAY_MARGIN = 60.0


Covers = Callable[[str, str, tuple[str, ...], str, str], bool]
"""``covers(host, os, tags, item, instance)``: does an enabled watch judge this series?"""


def seed_inventory(
    inventory: dict[str, Any],
    describe: Callable[[str, str, list[str]], object],
    seed: Callable[[str, str, str], object],
    covers: Covers | None,
) -> None:
    """Call ``describe(host, os, tags)`` for every host of ``inventory`` (the shape of
    :func:`gamsi.history.inventory.inventory_from_history`) and ``seed(host, item,
    instance)`` for every series it reports that ``covers`` (when given) accepts."""
    for host, info in inventory["hosts"].items():
        describe(host, info["os"], info["tags"])
        tags = tuple(info["tags"])
        for item, instances in info["items"].items():
            for instance in instances:
                if covers is None or covers(host, info["os"], tags, item, instance):
                    seed(host, item, instance)


def from_history(
    status: FleetStatus, run: Run, hours: float = 24.0, covers: Covers | None = None
) -> float:
    """Seed ``status`` from history; returns the newest event time it holds (0 if none).

    With ``covers`` only the series a watch judges are seeded (the collector reports
    many items nothing watches: uptime, byte counters, ...); series with events are
    always shown."""
    from gamsi.history.inventory import inventory_from_history

    seed_inventory(inventory_from_history(run, hours), status.describe_host, status.seed, covers)
    newest = 0.0
    for row in run(LATEST_EVENTS_SQL).rows:
        event = history_event(row)
        status.apply(event)
        newest = max(newest, event["ts"])
    return newest


def event_dict(record: ConsumerRecord[bytes, bytes]) -> dict[str, Any] | None:
    """A decoded event as a mapping, or None for a record that is not a valid event."""
    try:
        event = decode_severity_event(record.value or b"")
    except DecodeError:
        return None
    return {
        "host": event.host,
        "item": event.item,
        "instance": event.instance,
        "watch": event.watch,
        "severity": event.severity,
        "event_id": event.event_id,
        "value": event.value,
        "threshold": event.threshold,
        "ts": event.ts,
        "since": event.since,
        "tags": list(event.tags),
        "transition": event.transition,
        "message": event.message,
    }


async def seek_events(consumer: AIOKafkaConsumer, topic: str, since: float) -> None:
    """Assign every partition of ``topic`` and seek to the first offset at ``since`` (s)."""
    partitions = await all_partitions(consumer, topic)
    consumer.assign(partitions)
    if since <= 0:
        await consumer.seek_to_beginning(*partitions)
        return
    found = await consumer.offsets_for_times({tp: int(since * 1000) for tp in partitions})
    for tp in partitions:
        at = found.get(tp)
        if at is None:  # nothing that new: start at the end
            await consumer.seek_to_end(tp)
        else:
            consumer.seek(tp, at.offset)


async def catch_up(
    consumer: AIOKafkaConsumer,
    topic: str,
    on_event: Callable[[dict[str, Any]], object],
) -> int:
    """Read the assigned partitions of ``topic`` to their current end; returns events read."""
    partitions = list(consumer.assignment())
    end = await consumer.end_offsets(partitions)
    remaining = {tp for tp in partitions if await consumer.position(tp) < end[tp]}
    count = 0
    while remaining:
        batch = await consumer.getmany(*remaining, timeout_ms=1000)
        for records in batch.values():
            for record in records:
                event = event_dict(record)
                if event is not None:
                    on_event(event)
                    count += 1
        for tp in list(remaining):
            if await consumer.position(tp) >= end[tp]:
                remaining.discard(tp)
    return count


async def load_acks(settings: Settings, status: FleetStatus) -> None:
    """Apply every acknowledgement on the acks topic (compacted: the latest per event)."""
    from gamsi.notifier.ack import parse_ack

    def apply(record: ConsumerRecord[bytes, bytes]) -> None:
        ack = parse_ack(record.value or b"")
        if ack:
            status.acknowledge(ack["event_id"], ack["by"])

    consumer = AIOKafkaConsumer(
        **kafka_client_options(settings), group_id=None, enable_auto_commit=False
    )
    try:
        await consumer.start()
        await read_compacted(consumer, settings.notifier.acks_topic, apply)
    finally:
        await consumer.stop()


async def watched(settings: Settings) -> Covers | None:
    """The policy in force as a :data:`Covers` test (None when it cannot be read: then
    every reported series is shown)."""
    from gamsi.web.policy import covers, policy_in_force

    try:
        return covers((await policy_in_force(settings))[0])
    except Exception as exc:  # a policy file that does not load: the page still shows all
        log.warning("policy in force not read (%s); showing every reported series", exc)
        return None


async def build_status(settings: Settings, run: Run | None) -> FleetStatus:
    """History (when ``run`` is given and answers), then the events topic, then acks."""
    status = FleetStatus()
    newest = 0.0
    if run is not None:
        try:
            newest = from_history(status, run, covers=await watched(settings))
        except Exception as exc:  # the engine's or the endpoint's message says why
            log.warning("history not read (%s); rebuilding from the events topic alone", exc)
    consumer = AIOKafkaConsumer(
        **kafka_client_options(settings), group_id=None, enable_auto_commit=False
    )
    try:
        await consumer.start()
        topic = settings.kafka.events_topic
        await seek_events(consumer, topic, newest - REPLAY_MARGIN if newest else 0.0)
        await catch_up(consumer, topic, status.apply)
    finally:
        await consumer.stop()
    await load_acks(settings, status)
    status.built_at = time.time()
    return status


__all__ = [
    "REPLAY_MARGIN",
    "Covers",
    "build_status",
    "catch_up",
    "event_dict",
    "from_history",
    "seed_inventory",
    "seek_events",
    "watched",
]
