"""Deliveries and the delivery log.

A *delivery* (docs/glossary.md) is one event for one contact of one recipient on
one route: the unit the notifier sends, deduplicates and logs. Its idempotency
key names exactly that (plus the lifecycle step of a follow-up), so "sent once per
route and recipient" is a set-membership test in the ledger.

The delivery log is one record per delivery outcome, for ClickHouse's
``deliveries`` table. Keys are exactly the table's columns plus ``v`` and
``kind``; the history writer stores them as they are. Results: ``sent``,
``failed``, ``suppressed`` (a maintenance window or a silence), ``deduplicated`` (the
ledger says it already went out) and ``no_contact`` (a route matched the event and
none of its contacts took it: the fallback is told instead).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import orjson

from gamsi.notifier.routing import Contact, Route
from gamsi.schemas.records import SCHEMA_VERSION, SeverityEvent

RESULTS = ("sent", "failed", "suppressed", "deduplicated", "no_contact")

Told = tuple[str, str, str, str]
"""Who was told about a problem: (route name, recipient name, channel name, address)."""


def problem_key(event: SeverityEvent) -> str:
    """One problem = one watch on one host's item instance; its transitions share a thread."""
    return f"{event.host}|{event.watch}|{event.item}|{event.instance}"


def thread_key(problem: str, told: Told) -> str:
    """Ledger key part under which the first message of ``problem`` to ``told``'s contact
    is remembered (its channel reference: the thread later messages go to)."""
    route, _recipient, channel, to = told
    return f"{problem}:{route}:{channel}:{to}"


@dataclass(frozen=True)
class Delivery:
    """One event for one contact of one recipient on one route.

    ``kind`` is the message kind (raise, escalate, deescalate, recover, renotify,
    escalation); ``step`` names a follow-up (``renotify:3``, ``escalation:0``).
    """

    event: SeverityEvent
    route: Route
    recipient: str
    contact: Contact
    kind: str
    step: str = ""

    @property
    def key(self) -> str:
        """The idempotency key: ``event_id:route:recipient:channel[:step]``."""
        base = f"{self.event.event_id}:{self.route.name}:{self.recipient}:{self.contact.channel}"
        return f"{base}:{self.step}" if self.step else base

    @property
    def told(self) -> Told:
        """This delivery's entry in its problem's set of who was told."""
        return (self.route.name, self.recipient, self.contact.channel, self.contact.to)

    @property
    def thread_key(self) -> str:
        """Where the first message of this problem for this contact is remembered."""
        return thread_key(problem_key(self.event), self.told)

    @property
    def group_key(self) -> tuple[str, str, str, str, str]:
        """Deliveries with the same group key can go out as one message (the storm window)."""
        c = self.contact
        return (self.route.name, self.recipient, c.channel, c.to, self.kind)


class DeliverySink(Protocol):
    async def publish(self, records: list[dict[str, Any]]) -> None: ...


def delivery_record(
    delivery: Delivery, result: str, attempts: int, error: str, ts: float
) -> dict[str, Any]:
    """The delivery-log record of one outcome; raises ValueError for an unknown result."""
    if result not in RESULTS:
        raise ValueError(f"unknown delivery result {result!r}")
    e = delivery.event
    to = delivery.contact.to
    return {
        "v": SCHEMA_VERSION,
        "kind": "delivery",
        "ts": ts,
        "event_id": e.event_id,
        "route": delivery.route.name,
        "channel": delivery.contact.channel,
        "recipient": delivery.recipient + (f" <{to}>" if to else ""),
        "host": e.host,
        "item": e.item,
        "instance": e.instance,
        "severity": int(e.severity),
        "transition": delivery.step.split(":")[0] if delivery.step else e.transition,
        "result": result,
        "attempts": attempts,
        "error": error,
    }


def no_contact_record(
    event: SeverityEvent, route: str, recipients: str, reason: str, ts: float
) -> dict[str, Any]:
    """The delivery-log record of a route that matched ``event`` and reached no contact
    (``channel`` empty, ``recipients`` the route's, ``reason`` why each contact declined)."""
    return {
        "v": SCHEMA_VERSION,
        "kind": "delivery",
        "ts": ts,
        "event_id": event.event_id,
        "route": route,
        "channel": "",
        "recipient": recipients,
        "host": event.host,
        "item": event.item,
        "instance": event.instance,
        "severity": int(event.severity),
        "transition": event.transition,
        "result": "no_contact",
        "attempts": 0,
        "error": reason[:1000],
    }


def encode_delivery(record: dict[str, Any]) -> bytes:
    return orjson.dumps(record)


class MemorySink:
    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []

    async def publish(self, records: list[dict[str, Any]]) -> None:
        self.records.extend(records)
