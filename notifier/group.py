"""The group stage (storm control): targets that share a route, a contact and a kind
and arrive within the window go out as one message.

The window opens with the first target of a group and closes ``window`` seconds
later, whatever arrives in between; a window of 0 sends each consumer poll's
targets together. An outage of 200 servers within the window is one message
listing them. Each target carries ``ref`` (the Kafka record it came from) so the
consumer commits an offset only when every target of that record went out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from gamsi.notifier.targets import Target


@dataclass
class Group:
    key: tuple[Any, ...]
    opened: float
    closes: float
    thread_ref: str = ""
    targets: list[Target] = field(default_factory=list)
    refs: list[Any] = field(default_factory=list)


class Grouper:
    def __init__(self) -> None:
        self._open: dict[tuple[Any, ...], Group] = {}

    def add(
        self, target: Target, ref: Any, now: float, window: float, thread_ref: str = ""
    ) -> None:
        key = (*target.group_key, thread_ref)
        group = self._open.get(key)
        if group is None:
            group = self._open[key] = Group(key, now, now + window, thread_ref)
        group.targets.append(target)
        group.refs.append(ref)

    def due(self, now: float) -> list[Group]:
        """Pop the groups whose window has closed, oldest first."""
        ready = sorted((g for g in self._open.values() if g.closes <= now), key=lambda g: g.opened)
        for group in ready:
            del self._open[group.key]
        return ready

    def drain(self) -> list[Group]:
        groups = sorted(self._open.values(), key=lambda g: g.opened)
        self._open.clear()
        return groups

    def next_close(self) -> float | None:
        return min((g.closes for g in self._open.values()), default=None)

    def __len__(self) -> int:
        return sum(len(g.targets) for g in self._open.values())
