"""The routing model: channels, recipients and their contacts, routes and maintenance windows.

Plain frozen dataclasses built by :mod:`gamsi.notifier.routing.parse` from the
routing file (docs/notifications.md). Deciding who gets what is in
:mod:`gamsi.notifier.route`, muting in :mod:`gamsi.notifier.mute`. Names are
matched with shell globs (``db-*``), like Alertmanager's matchers but simpler.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from gamsi.notifier.schedule import Window
from gamsi.schemas.records import SeverityEvent

UTC = ZoneInfo("UTC")
__all__ = [
    *("UTC", "Contact", "Escalation", "Maintenance", "Match", "Recipient", "Route"),
    *("RoutingConfig", "default_routing"),
]


@dataclass(frozen=True)
class Contact:
    """One way to reach a recipient: a channel, an address, when and for which severities."""

    channel: str
    to: str
    window: Window | None = None
    severities: frozenset[int] | None = None

    def takes(self, severity: int, ts: float) -> bool:
        """Whether this contact is used for ``severity`` at ``ts`` (epoch seconds)."""
        if self.severities is not None and severity not in self.severities:
            return False
        return self.window is None or self.window.active(ts)


@dataclass(frozen=True)
class Recipient:
    """A person or a team; a team's members are other recipients, expanded when routing."""

    name: str
    contacts: tuple[Contact, ...] = ()
    members: tuple[str, ...] = ()


@dataclass(frozen=True)
class Match:
    """What a route takes; every given condition must hold (globs for names)."""

    min_severity: int = 0
    watches: tuple[str, ...] = ()
    items: tuple[str, ...] = ()
    hosts: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()

    def matches(self, event: SeverityEvent) -> bool:
        """Whether the route takes ``event`` (a recovery is judged by the level it left)."""
        level = event.previous if event.transition == "recover" else event.severity
        if level < self.min_severity:
            return False
        return (
            _globs(self.watches, event.watch)
            and _globs(self.items, event.item)
            and _globs(self.hosts, event.host)
            and (not self.tags or bool(set(self.tags) & set(event.tags)))
        )


@dataclass(frozen=True)
class Escalation:
    """After ``after`` seconds unacknowledged, also notify ``recipients``."""

    after: float
    recipients: tuple[str, ...]


@dataclass(frozen=True)
class Route:
    """Which events (``match``) go to whom, re-notified, grouped and escalated how.

    Routes are tried in file order; ``stop`` ends the walk for an event it took.
    ``renotify_every`` and ``group_window`` are seconds (0 / None: the defaults).
    """

    name: str
    match: Match
    recipients: tuple[str, ...]
    notify_recovery: bool = True
    renotify_every: float = 0.0
    group_window: float | None = None
    escalations: tuple[Escalation, ...] = ()
    stop: bool = False


@dataclass(frozen=True)
class Maintenance:
    """Suppresses notifications for matching hosts while active (one-off or recurring)."""

    name: str
    hosts: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    start: float | None = None
    end: float | None = None
    window: Window | None = None

    def covers(self, event: SeverityEvent, ts: float) -> bool:
        """Whether the window mutes ``event`` at ``ts`` (epoch seconds)."""
        if not (_globs(self.hosts, event.host) if self.hosts else False) and not (
            set(self.tags) & set(event.tags)
        ):
            return False
        if self.window is not None:
            return self.window.active(ts)
        return (self.start or 0.0) <= ts < (self.end or float("inf"))


@dataclass(frozen=True)
class RoutingConfig:
    """A whole routing file: channel options by name, recipients, routes, maintenance.

    ``source`` names the file (``<built-in>`` for :func:`default_routing`);
    ``group_window`` and ``renotify_every`` are the file's defaults in seconds;
    ``fallback`` the recipients of events nobody else is told about.
    """

    channels: dict[str, dict[str, Any]]
    recipients: dict[str, Recipient]
    routes: tuple[Route, ...]
    maintenance: tuple[Maintenance, ...] = ()
    source: str = "<built-in>"
    group_window: float | None = None
    renotify_every: float = 0.0
    timezone: ZoneInfo = field(default=UTC)
    fallback: tuple[str, ...] = ()
    """``defaults.fallback``: recipients told when an event matches routes but reaches no
    contact (empty: the log console)."""


def _globs(patterns: tuple[str, ...], value: str) -> bool:
    return not patterns or any(fnmatch.fnmatchcase(value, p) for p in patterns)


def default_routing(slack: bool) -> RoutingConfig:
    """No routing file: every event (and its recovery) to Slack if a token is set, else console."""
    channel = "slack" if slack else "console"
    return RoutingConfig(
        channels={channel: {"type": channel}},
        recipients={"default": Recipient("default", (Contact(channel, ""),))},
        routes=(Route("default", Match(min_severity=0), ("default",)),),
    )
