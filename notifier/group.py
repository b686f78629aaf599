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

A series (one problem's thread to one contact, :attr:`Delivery.thread_key`) has at
most one transition waiting, plus before an ending the message that first tells the
contact of it: a transition (raise, escalate, deescalate, recover) arriving while
earlier deliveries of its series wait *supersedes* them, whichever group holds them.
An earlier one leaves its group's deliveries for
:attr:`Group.superseded` (its ``ref`` stays, so offsets still commit) and the newer
one counts it in :attr:`Group.flaps`. So however the groups of a window are ordered,
the last message a contact gets about a series tells its latest event: a backlog of
9 alternating raise/recover events is one message saying it is raised, not a raise
group followed by a recovery group.
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
    superseded: list[Delivery] = field(default_factory=list)
    """Deliveries a later transition of their series replaced; they are not sent."""
    flaps: dict[str, int] = field(default_factory=dict)
    """Per waiting delivery key: how many earlier deliveries of its series it replaced."""


FOLLOW_UP_KINDS = ("renotify", "escalation")
"""Kinds that repeat a problem's state (a reminder, a next escalation step); they never
supersede a waiting transition, but a later transition supersedes them."""

ENDINGS = ("deescalate", "recover")
"""Kinds that only go to a contact told of the problem before (docs/notifications.md)."""


class Grouper:
    def __init__(self) -> None:
        self._open: dict[tuple[Any, ...], Group] = {}
        self._held: dict[str, Group] = {}
        self._series: dict[str, list[Delivery]] = {}

    def add(self, delivery: Delivery, ref: Any, now: float, window: float) -> bool:
        """Buffer ``delivery`` (seconds: ``now``, ``window``); False if it was buffered already.

        A transition supersedes the deliveries of its series that wait (module docstring).
        """
        waiting = self._held.get(delivery.key)
        if waiting is not None:
            waiting.refs.append(ref)
            return False
        group = self._open.get(delivery.group_key)
        if group is None:
            group = self._open[delivery.group_key] = Group(delivery.group_key, now, now + window)
        series = self._series.setdefault(delivery.thread_key, [])
        group.refs.append(ref)
        self._held[delivery.key] = group
        if delivery.kind not in FOLLOW_UP_KINDS and series:
            self._supersede(series, delivery, group)
        series.append(delivery)
        group.deliveries.append(delivery)
        return True

    def _supersede(self, series: list[Delivery], delivery: Delivery, group: Group) -> None:
        """Take the waiting deliveries of ``delivery``'s series out of their groups, all
        but, before an ending, the first one if it tells the contact of the series (a
        raise, an escalation): its group closes no later than the ending's, and in one
        flush telling groups go before endings (:meth:`due`)."""
        first = series[0]
        telling = first.kind not in ENDINGS and delivery.kind in ENDINGS
        if telling:
            holder = self._held[first.key]
            holder.closes = min(holder.closes, group.closes)
        replaced = 0
        for old in series[1:] if telling else series:
            holder = self._held[old.key]
            holder.deliveries.remove(old)
            holder.superseded.append(old)
            replaced += 1 + holder.flaps.pop(old.key, 0)
        series[:] = series[:1] if telling else []
        if replaced:
            group.flaps[delivery.key] = replaced

    def holds(self, key: str) -> bool:
        """Is a delivery with this idempotency key waiting in an open group?"""
        return key in self._held

    def due(self, now: float) -> list[Group]:
        """Pop the groups whose window has closed: groups of endings last (a series'
        telling message goes before the ending that may wait beside it), oldest first."""
        return self._pop([g for g in self._open.values() if g.closes <= now])

    def drain(self) -> list[Group]:
        return self._pop(list(self._open.values()))

    def _pop(self, groups: list[Group]) -> list[Group]:
        groups.sort(key=lambda g: (g.key[-1] in ENDINGS, g.opened))
        for group in groups:
            del self._open[group.key]
            for d in [*group.deliveries, *group.superseded]:
                self._held.pop(d.key, None)
            for d in group.deliveries:
                series = self._series.get(d.thread_key, [])
                if d in series:
                    series.remove(d)
                if not series:
                    self._series.pop(d.thread_key, None)
        return groups

    def next_close(self) -> float | None:
        return min((g.closes for g in self._open.values()), default=None)

    def __len__(self) -> int:
        return sum(len(g.deliveries) for g in self._open.values())
