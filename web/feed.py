"""The status page's feed: rebuild the live picture, then follow the events and acks topics.

:func:`follow` does what :func:`gamsi.web.load.build_status` does — history's
inventory and latest events, then the events topic from where history ends, then
the acks topic — into a fresh picture, swaps it into :class:`~gamsi.web.live.Live`
(followers reload), and then keeps reading both topics so every change reaches the
open pages; history's inventory is read again every :data:`INVENTORY_EVERY` seconds,
so a server that reports but has no event yet shows up. On a Kafka or history error
the picture is rebuilt after a pause (1 s, doubling to 30 s).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRecord

from gamsi.history.reports import Run
from gamsi.kafka_auth import kafka_client_options
from gamsi.settings import Settings
from gamsi.topics import read_compacted
from gamsi.web.live import Live
from gamsi.web.load import (
    REPLAY_MARGIN,
    Covers,
    catch_up,
    event_dict,
    from_history,
    seed_inventory,
    seek_events,
    watched,
)

log = logging.getLogger(__name__)

INVENTORY_EVERY = 60.0
"""Seconds between re-reads of history's inventory (a new host shows up without an event)."""


def _consumer(settings: Settings) -> AIOKafkaConsumer:
    return AIOKafkaConsumer(
        **kafka_client_options(settings), group_id=None, enable_auto_commit=False
    )


async def _inventory(live: Live, run: Run, covers: Covers | None) -> None:
    """New servers and newly watched series (after a registration) join the picture."""
    from gamsi.history.inventory import inventory_from_history

    inventory = await asyncio.to_thread(inventory_from_history, run, 24.0)
    seed_inventory(inventory, live.describe, live.seed, covers)


async def follow(
    settings: Settings, live: Live, history: Callable[[], Run | None], stop: asyncio.Event
) -> None:
    """Rebuild the picture, then follow the events and acks topics until ``stop``.

    ``history()`` gives a Run for history or None when it cannot be read now. On a
    Kafka error the picture is rebuilt after a pause (followers reload it).
    """
    from gamsi.notifier.ack import parse_ack

    pause = 1.0
    while not stop.is_set():
        fresh = Live(live.recent.maxlen or 500)
        try:
            await _build_and_follow(settings, live, fresh, history, stop, parse_ack)
            return
        except Exception as exc:  # Kafka away, history failing: rebuild after a pause
            log.warning("status feed interrupted (%s: %s); rebuilding in %.0f s",
                        type(exc).__name__, exc, pause)  # fmt: skip
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), pause)
        pause = min(pause * 2, 30.0)


async def _build_and_follow(
    settings: Settings,
    live: Live,
    fresh: Live,
    history: Callable[[], Run | None],
    stop: asyncio.Event,
    parse_ack: Callable[[bytes], dict[str, Any] | None],
) -> None:
    newest = 0.0
    run = history()
    if run is not None:
        try:
            covers = await watched(settings)
            newest = await asyncio.to_thread(from_history, fresh.status, run, 24.0, covers)
        except Exception as exc:  # the engine's or the endpoint's message says why
            log.warning("history not read (%s); rebuilding from the events topic alone", exc)
    events, acks = _consumer(settings), _consumer(settings)
    await events.start()
    await acks.start()
    follower: asyncio.Task[int] | None = None
    try:
        topic = settings.kafka.events_topic
        await seek_events(events, topic, newest - REPLAY_MARGIN if newest else 0.0)
        await catch_up(events, topic, fresh.on_event)
        caught_up = asyncio.Event()

        def on_ack(record: ConsumerRecord[bytes, bytes]) -> None:
            ack = parse_ack(record.value or b"")
            if ack:
                live.on_ack(ack)

        # The acks are applied to ``live`` (not ``fresh``): swap first, then read them.
        fresh.status.built_at = time.time()
        live.recent.clear()
        live.recent.extend(fresh.recent)
        live.acks.clear()
        live.reset(fresh.status)
        follower = asyncio.create_task(
            read_compacted(acks, settings.notifier.acks_topic, on_ack, follow=True,
                           caught_up=caught_up)
        )  # fmt: skip
        await _until(caught_up, follower)
        live.ready = True
        log.info("status picture built: %d cells on %d hosts", len(live.status.cells),
                 len(live.status.hosts))  # fmt: skip
        next_inventory = time.monotonic() + INVENTORY_EVERY
        while not stop.is_set():
            if follower.done():
                follower.result()  # re-raise the acks reader's error
            batch = await events.getmany(timeout_ms=200)
            for records in batch.values():
                for record in records:
                    event = event_dict(record)
                    if event is not None:
                        live.on_event(event)
            if time.monotonic() >= next_inventory:
                next_inventory = time.monotonic() + INVENTORY_EVERY
                run = history()
                if run is not None:
                    with contextlib.suppress(Exception):  # tried again next time
                        await _inventory(live, run, await watched(settings))
    finally:
        if follower is not None:
            follower.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await follower
        await events.stop()
        await acks.stop()


async def _until(event: asyncio.Event, task: asyncio.Task[Any]) -> None:
    """Wait for ``event``; if ``task`` ends first, raise its error."""
    waiter = asyncio.create_task(event.wait())
    try:
        await asyncio.wait({waiter, task}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        waiter.cancel()
    if not event.is_set():
        task.result()
        raise RuntimeError("the acks reader stopped before it caught up")


__all__ = ["follow"]
