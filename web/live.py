"""The status page's live picture: a :class:`FleetStatus` kept current, and what changed.

:class:`Live` owns the picture the web service serves. The feed (:func:`follow`)
rebuilds it exactly as :func:`gamsi.web.load.build_status` does — history's
inventory and latest events, then the events topic from where history ends, then
the acks topic — and then keeps following both topics, so a cell changes on the
page as soon as its event is read (server-sent events, :mod:`gamsi.web.app`).

Every change gets a sequence number. A browser loads the whole picture once
(:meth:`Live.snapshot`, which names the sequence it is at) and then asks for the
changes after it; EventSource sends that number back when it reconnects
(``Last-Event-ID``), so a dropped connection loses nothing. When the changes it
asks for have left the bounded buffer (or the feed was rebuilt) it is told to
reload the picture instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRecord

from gamsi.history.reports import Run
from gamsi.kafka_auth import kafka_client_options
from gamsi.settings import Settings
from gamsi.topics import read_compacted
from gamsi.web.load import REPLAY_MARGIN, catch_up, event_dict, from_history, seek_events
from gamsi.web.status import Cell, FleetStatus

log = logging.getLogger(__name__)

KEEP_CHANGES = 50_000
"""Changes kept for browsers that reconnect (a 1,000 × 20 fleet changing every cell twice)."""
QUEUE_SIZE = 10_000
"""Changes one browser may fall behind by before it is told to reload the picture."""
INVENTORY_EVERY = 60.0
"""Seconds between re-reads of history's inventory (a new host shows up without an event)."""
RESET = "reset"


def cell_row(cell: Cell) -> list[Any]:
    """A cell on the wire: ``[host, item, instance, severity, watch, value, threshold,
    since, acked_by, event_id]`` (a list, not a mapping: 1,000 × 20 cells stay ~2 MB)."""
    worst = cell.worst or {}
    return [
        cell.host,
        cell.item,
        cell.instance,
        int(cell.severity),
        worst.get("watch", ""),
        worst.get("value"),
        worst.get("threshold"),
        worst.get("since", 0.0) if cell.severity else 0.0,
        worst.get("acked_by", "") if cell.severity else "",
        worst.get("event_id", ""),
    ]


class Live:
    """The picture, its change log and the browsers following it.

    ``recent`` holds the newest ``keep_events`` events read from the topic (for the
    timeline, besides history); ``acks`` the latest ack record per event id.
    """

    def __init__(self, keep_events: int = 500) -> None:
        self.status = FleetStatus()
        self.ready = False
        self.epoch = 0
        self.seq = 0
        self.changes: deque[tuple[int, list[Any]]] = deque(maxlen=KEEP_CHANGES)
        self.subscribers: set[asyncio.Queue[tuple[int, Any]]] = set()
        self.recent: deque[dict[str, Any]] = deque(maxlen=keep_events)
        self.acks: dict[str, dict[str, Any]] = {}
        self._ack_read = asyncio.Event()
        self.closing = asyncio.Event()
        """Set when the service stops: live streams end."""

    # -- what the feed calls ------------------------------------------------------
    def reset(self, status: FleetStatus) -> None:
        """Swap in a rebuilt picture; every follower is told to reload."""
        self.status = status
        self.epoch += 1
        self.changes.clear()
        for queue in list(self.subscribers):
            self._offer(queue, (self.seq, RESET))

    def on_event(self, event: dict[str, Any]) -> None:
        """Fold one event in (from the topic) and publish the changed cell."""
        if event.get("message") is not None:  # from the topic, not a history row
            self.recent.appendleft(event)
        key = self.status.apply(event)
        if key is not None:
            self._publish(key)

    def on_ack(self, record: dict[str, Any]) -> None:
        """One record of the acks topic: remembered for the timeline, applied to the cell."""
        event_id = str(record["event_id"])
        if record.get("undo"):
            self.acks.pop(event_id, None)
            return
        self.acks[event_id] = record
        self._ack_read.set()
        self._ack_read = asyncio.Event()
        key = self.status.acknowledge(event_id, str(record.get("by", "")))
        if key is not None:
            self._publish(key)

    def seed(self, host: str, item: str, instance: str) -> None:
        """A series history's inventory reports that the picture lacks: shown NORMAL."""
        if (host, item, instance) not in self.status.cells:
            self.status.seed(host, item, instance)
            self._publish((host, item, instance))

    def _publish(self, key: tuple[str, str, str]) -> None:
        self.seq += 1
        row = cell_row(self.status.cells[key])
        self.changes.append((self.seq, row))
        for queue in list(self.subscribers):
            self._offer(queue, (self.seq, row))

    def _offer(self, queue: asyncio.Queue[tuple[int, Any]], item: tuple[int, Any]) -> None:
        try:
            queue.put_nowait(item)
        except asyncio.QueueFull:  # too slow a reader: it reloads instead
            with contextlib.suppress(asyncio.QueueEmpty):
                while True:
                    queue.get_nowait()
            queue.put_nowait((self.seq, RESET))

    # -- what the app calls -------------------------------------------------------
    async def ack_seen(self, event_id: str, within: float) -> bool:
        """Wait up to ``within`` seconds until an ack of ``event_id`` has been read."""
        deadline = time.monotonic() + within
        while event_id not in self.acks:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._ack_read.wait(), left)
        return True

    def snapshot(self) -> dict[str, Any]:
        """The whole picture: ``{seq, epoch, counts, hosts: {host: [os, tags]}, cells}``."""
        st = self.status
        return {
            "seq": self.seq,
            "epoch": self.epoch,
            "built_at": st.built_at,
            "counts": st.counts(),
            "hosts": {h: [i.os, list(i.tags)] for h, i in st.hosts.items()},
            "cells": [cell_row(c) for c in st.cells.values()],
        }

    def subscribe(self, after: int) -> asyncio.Queue[tuple[int, Any]]:
        """A queue of (seq, cell row | RESET) after sequence ``after``; :meth:`unsubscribe` it."""
        queue: asyncio.Queue[tuple[int, Any]] = asyncio.Queue(QUEUE_SIZE)
        oldest = self.changes[0][0] if self.changes else self.seq + 1
        if after > self.seq or (after < self.seq and after + 1 < oldest):
            queue.put_nowait((self.seq, RESET))
        else:
            for seq, row in self.changes:
                if seq > after:
                    self._offer(queue, (seq, row))
        self.subscribers.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[tuple[int, Any]]) -> None:
        self.subscribers.discard(queue)


def _consumer(settings: Settings) -> AIOKafkaConsumer:
    return AIOKafkaConsumer(
        **kafka_client_options(settings), group_id=None, enable_auto_commit=False
    )


async def _inventory(live: Live, run: Run) -> None:
    from gamsi.history.inventory import inventory_from_history

    inventory = await asyncio.to_thread(inventory_from_history, run, 24.0)
    for host, info in inventory["hosts"].items():
        live.status.describe_host(host, info["os"], info["tags"])
        for item, instances in info["items"].items():
            for instance in instances:
                live.seed(host, item, instance)


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
            newest = await asyncio.to_thread(from_history, fresh.status, run)
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
                        await _inventory(live, run)
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


__all__ = ["Live", "cell_row", "follow"]
