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
from typing import Any

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
        self.changes: deque[tuple[int, list[Any] | dict[str, Any]]] = deque(maxlen=KEEP_CHANGES)
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

    def describe(self, host: str, os_name: str, tags: list[str]) -> None:
        """A server's OS and tags from history's inventory; followers are told of a change
        (``{"host", "os", "tags"}`` instead of a cell row) so the page's filters know it."""
        info = self.status.hosts.get(host)
        if info is not None and (info.os, list(info.tags)) == (os_name, list(tags)):
            return
        self.status.describe_host(host, os_name, tags)
        self._send({"host": host, "os": os_name, "tags": list(tags)})

    def _publish(self, key: tuple[str, str, str]) -> None:
        self._send(cell_row(self.status.cells[key]))

    def _send(self, row: list[Any] | dict[str, Any]) -> None:
        self.seq += 1
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


__all__ = ["RESET", "Live", "cell_row"]
