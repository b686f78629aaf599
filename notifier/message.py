"""What a channel is asked to send: one notification about one or more severity events.

A notification covers several events when the storm window grouped them (an
outage of 200 servers is one message listing them). The text helpers here are
shared by every channel so that Slack, email, SMS and the console say the same
thing: the severity name, the host, the item, the value against the threshold,
for how long, and whether someone acknowledged it.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from gamsi.schemas.records import Severity, SeverityEvent, reading

KINDS = ("raise", "escalate", "deescalate", "recover", "renotify", "escalation")
MAX_EVENTS = 200
"""Events listed in one message at most; the rest are counted ("… and 40 more")."""
MAX_BYTES = 96 * 1024
"""Listed events' text fields (host, item, message, ...) weigh at most this much together."""
MAX_NAME = 200
"""Characters kept of a name (host, item, instance, watch, id, tag); longer ones are cut."""
MAX_MESSAGE = 1000
"""Characters kept of an event's message."""
MAX_TAGS = 20


@dataclass
class Notification:
    """One message to one contact of one route."""

    route: str
    recipient: str
    channel: str
    address: str
    kind: str
    events: list[SeverityEvent]
    at: float
    key: str = ""
    thread_ref: str = ""
    acked_by: str = ""
    dashboard_url: str = ""
    extra: dict[str, str] = field(default_factory=dict)
    omitted: int = 0
    """Events this message covers but does not list (see :func:`bounded`)."""
    omitted_hosts: int = 0
    """Hosts that appear only among the omitted events."""
    remediation: str = ""
    """What a recovery script did for this problem (gamsi.notifier.remediation), or ''."""
    held_by: str = ""
    """For a recovery held back while muted: what held it (``silence 3f2a9c1e until ...
    by kim: disk swap`` or ``maintenance NAME``), or ''."""
    flapped: int = 0
    """Earlier transitions of the same series this message replaced within its storm
    window (gamsi.notifier.group), or 0."""

    @property
    def severity(self) -> Severity:
        """The worst severity among the events (on recovery, the one that recovered)."""
        if self.kind == "recover":
            return Severity(max(e.previous for e in self.events))
        return Severity(max(e.severity for e in self.events))

    @property
    def recovered(self) -> bool:
        return self.kind == "recover"

    @property
    def hosts(self) -> list[str]:
        return sorted({e.host for e in self.events})

    def headline(self) -> str:
        """One line: '[URGENT 긴급] web-1 cpu.util 95.2 ≥ 90 for 2m' or a grouped summary."""
        sev = self.severity
        label = "RECOVERED" if self.recovered else sev.name
        prefix = f"[{label} {Severity.NORMAL.korean if self.recovered else sev.korean}]"
        if self.kind == "renotify":
            prefix += " still active:"
        elif self.kind == "escalation":
            prefix += " escalated:" if self.remediation else " escalated, unacknowledged:"
        if self.count == 1:
            note = f" — {self.remediation}" if self.remediation else ""
            return f"{prefix} {event_line(self.events[0], self.at, self.recovered)}{note}"
        items = ", ".join(sorted({_item(e) for e in self.events}))
        was = f" (was {sev.name})" if self.recovered else ""
        count, hosts = self.count, len(self.hosts) + self.omitted_hosts
        return f"{prefix} {count} events on {hosts} hosts: {items}{was}"

    @property
    def count(self) -> int:
        """How many events this message covers (listed and omitted)."""
        return len(self.events) + self.omitted

    def lines(self) -> list[str]:
        """One line per listed event, for grouped messages."""
        return [event_line(e, self.at, self.recovered) for e in self.events]

    def text(self) -> str:
        """The plain-text body (the Slack fallback, SMS, console, the email text part)."""
        parts = [self.headline()]
        if self.count > 1:
            parts.extend(f"- {line}" for line in self.lines())
        if self.omitted:
            parts.append(f"… and {self.omitted} more")
        if self.remediation and self.count > 1:
            parts.append(self.remediation)
        if self.held_by:
            parts.append(f"Held back during {self.held_by}.")
        if self.flapped:
            plural = "s" if self.flapped != 1 else ""
            parts.append(f"Flapping: {self.flapped} earlier transition{plural} in this window.")
        if self.acked_by:
            parts.append(f"Acknowledged by {self.acked_by}.")
        ids = ", ".join(e.event_id for e in self.events[:3])
        more = f" (+{self.count - 3})" if self.count > 3 else ""
        parts.append(f"Event: {ids}{more}")
        if self.dashboard_url:
            parts.append(self.dashboard_url)
        return "\n".join(parts)


def _item(event: SeverityEvent) -> str:
    return f"{event.item}[{event.instance}]" if event.instance else event.item


def event_line(event: SeverityEvent, now: float, recovered: bool) -> str:
    """'web-1 cpu.util = 95.2 (threshold 90) for 2m 5s, watch cpu' or the recovery form."""
    value = f"{_item(event)} = {reading(event.value)} (threshold {reading(event.threshold)})"
    if recovered:
        was = Severity(event.previous).name
        return f"{event.host} {value} recovered, was {was} [{event.watch}]"
    since = event.since or event.ts
    sev = Severity(event.severity).name
    return f"{event.host} {value} {sev} for {duration_text(max(0.0, now - since))} [{event.watch}]"


def duration_text(seconds: float) -> str:
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m {seconds}s" if seconds else f"{minutes}m"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes}m" if minutes else f"{hours}h"


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def bounded(events: list[SeverityEvent]) -> tuple[list[SeverityEvent], int, int]:
    """The events one message lists, each with its text fields cut to size.

    Returns ``(listed, omitted, omitted_hosts)``: at most :data:`MAX_EVENTS` events
    whose text weighs at most :data:`MAX_BYTES` (the first one always), how many
    more the message covers without listing them, and how many hosts appear only
    among those. So a message stays far below what receivers accept (Slack 40,000
    characters of text, webhooks commonly 1 MB), whatever one event carries.
    """
    listed: list[SeverityEvent] = []
    weight = 0
    for e in events:
        cut = replace(
            e,
            event_id=_cut(e.event_id, MAX_NAME),
            host=_cut(e.host, MAX_NAME),
            item=_cut(e.item, MAX_NAME),
            instance=_cut(e.instance, MAX_NAME),
            watch=_cut(e.watch, MAX_NAME),
            transition=_cut(e.transition, MAX_NAME),
            message=_cut(e.message, MAX_MESSAGE),
            tags=[_cut(t, MAX_NAME) for t in e.tags[:MAX_TAGS]],
        )
        size = 200 + sum(len(x) for x in (cut.event_id, cut.host, cut.item, cut.message))
        size += len(cut.instance) + len(cut.watch) + sum(len(t) + 3 for t in cut.tags)
        if listed and (len(listed) >= MAX_EVENTS or weight + size > MAX_BYTES):
            break
        listed.append(cut)
        weight += size
    rest = events[len(listed) :]
    shown = {e.host for e in listed}
    return listed, len(rest), len({e.host for e in rest if _cut(e.host, MAX_NAME) not in shown})
