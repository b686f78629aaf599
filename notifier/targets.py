"""A target is one event for one contact of one recipient on one route: the unit of delivery.

Its idempotency key names exactly that (plus the lifecycle step for follow-ups),
so "sent once per route and recipient" is a set-membership test in the ledger.
"""

from __future__ import annotations

from dataclasses import dataclass

from gamsi.notifier.routing import Contact, Route
from gamsi.schemas.records import SeverityEvent


def problem_key(event: SeverityEvent) -> str:
    """One problem = one watch on one host's item instance; its transitions share a thread."""
    return f"{event.host}|{event.watch}|{event.item}|{event.instance}"


@dataclass(frozen=True)
class Target:
    event: SeverityEvent
    route: Route
    recipient: str
    contact: Contact
    kind: str
    step: str = ""

    @property
    def key(self) -> str:
        base = f"{self.event.event_id}:{self.route.name}:{self.recipient}:{self.contact.channel}"
        return f"{base}:{self.step}" if self.step else base

    @property
    def thread_key(self) -> str:
        """Where the first message of this problem for this contact is remembered."""
        c = self.contact
        return f"{problem_key(self.event)}:{self.route.name}:{c.channel}:{c.to}"

    @property
    def group_key(self) -> tuple[str, str, str, str, str]:
        """Targets with the same group key can go out as one message (the storm window)."""
        c = self.contact
        return (self.route.name, self.recipient, c.channel, c.to, self.kind)
