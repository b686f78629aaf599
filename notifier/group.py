"""The group stage (storm control): deliveries that share a route, a contact and a kind
and arrive within the window go out as one message.

The window opens with the first delivery of a group and closes ``window`` seconds
later, whatever arrives in between; a window of 0 sends each consumer poll's
deliveries together. An outage of 200 servers within the window is one message
listing them. Each delivery carries ``ref`` (the Kafka record it came from) so
the consumer commits an offset only when every delivery of that record went out.

A delivery is buffered once: the same idempotency key arriving again while it
waits (a follow-up computed on every tick, a redelivered event) only adds its
``ref`` to the group that already holds it (:meth:`Grouper.add` returns False).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from gamsi.notifier.deliveries import Delivery


@dataclass
class Group:
    key: tuple[Any, ...]
    opened: float
    closes: float
    deliveries: list[Delivery] = field(default_factory=list)
    refs: list[Any] = field(default_factory=list)


class Grouper:
    def __init__(self) -> None:
        self._open: dict[tuple[Any, ...], Group] = {}
        self._held: dict[str, Group] = {}

    def add(self, delivery: Delivery, ref: Any, now: float, window: float) -> bool:
        """Buffer ``delivery`` (seconds: ``now``, ``window``); False if it was buffered already."""
        waiting = self._held.get(delivery.key)
        if waiting is not None:
            waiting.refs.append(ref)
            return False
        group = self._open.get(delivery.group_key)
        if group is None:
            group = self._open[delivery.group_key] = Group(delivery.group_key, now, now + window)
        group.deliveries.append(delivery)
        group.refs.append(ref)
        self._held[delivery.key] = group
        return True

    def holds(self, key: str) -> bool:
        """Is a delivery with this idempotency key waiting in an open group?"""
        return key in self._held

    def due(self, now: float) -> list[Group]:
        """Pop the groups whose window has closed, oldest first."""
        return self._pop([g for g in self._open.values() if g.closes <= now])

    def drain(self) -> list[Group]:
        return self._pop(list(self._open.values()))

    def _pop(self, groups: list[Group]) -> list[Group]:
        groups.sort(key=lambda g: g.opened)
        for group in groups:
            del self._open[group.key]
            for d in group.deliveries:
                self._held.pop(d.key, None)
        return groups

    def next_close(self) -> float | None:
        return min((g.closes for g in self._open.values()), default=None)

    def __len__(self) -> int:
        return sum(len(g.deliveries) for g in self._open.values())
