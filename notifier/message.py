"""What a channel is asked to send: one notification about one or more severity events.

A notification covers several events when the storm window grouped them (an
outage of 200 servers is one message listing them). The text helpers here are
shared by every channel so that Slack, email, SMS and the console say the same
thing: the severity name, the host, the item, the value against the threshold,
for how long, and whether someone acknowledged it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from gamsi.schemas.records import Severity, SeverityEvent

KINDS = ("raise", "escalate", "deescalate", "recover", "renotify", "escalation")


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
            prefix += " escalated, unacknowledged:"
        if len(self.events) == 1:
            return f"{prefix} {event_line(self.events[0], self.at, self.recovered)}"
        items = ", ".join(sorted({_item(e) for e in self.events}))
        was = f" (was {sev.name})" if self.recovered else ""
        return f"{prefix} {len(self.events)} events on {len(self.hosts)} hosts: {items}{was}"

    def lines(self) -> list[str]:
        """One line per event, for grouped messages."""
        return [event_line(e, self.at, self.recovered) for e in self.events]

    def text(self) -> str:
        """The plain-text body (the Slack fallback, SMS, console, the email text part)."""
        parts = [self.headline()]
        if len(self.events) > 1:
            parts.extend(f"- {line}" for line in self.lines())
        if self.acked_by:
            parts.append(f"Acknowledged by {self.acked_by}.")
        ids = ", ".join(e.event_id for e in self.events[:3])
        more = f" (+{len(self.events) - 3})" if len(self.events) > 3 else ""
        parts.append(f"Event: {ids}{more}")
        if self.dashboard_url:
            parts.append(self.dashboard_url)
        return "\n".join(parts)


def _item(event: SeverityEvent) -> str:
    return f"{event.item}[{event.instance}]" if event.instance else event.item


def event_line(event: SeverityEvent, now: float, recovered: bool) -> str:
    """'web-1 cpu.util = 95.2 (threshold 90) for 2m 5s, watch cpu' or the recovery form."""
    value = f"{_item(event)} = {event.value:g} (threshold {event.threshold:g})"
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
