"""The route stage: which recipients, through which contacts, get an event now.

Routes are tried in file order; every matching route applies unless a matching
route says ``stop: true``. Teams expand to their members (and the team's own
contacts); a contact takes the event only for its severities and inside its
active window, read at ``now`` in its own time zone. That is how raises,
escalations and follow-ups find their contacts.

De-escalations and recoveries are not routed this way: they go to exactly the
contacts that were told about the problem (:func:`to_told`), whatever their
severity filters and hours say now, unless the route turned recovery notices off.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from gamsi.notifier.deliveries import Delivery, Told, no_contact_record
from gamsi.notifier.routing import Contact, Match, Recipient, Route, RoutingConfig
from gamsi.schemas.records import Severity, SeverityEvent

FOLLOWS = frozenset({"deescalate", "recover"})
"""Transitions that go to whoever was told, not to whoever the routes would pick now."""
FALLBACK_ROUTE = "fallback"
"""The route name of deliveries to ``defaults.fallback`` (docs/notifications.md)."""
FALLBACK_CHANNEL = "gamsi-fallback"
"""The built-in console channel (the log) that the fallback uses when none is configured."""


@dataclass(frozen=True)
class Choice:
    """One contact of one recipient considered for an event on a route: taken when
    ``reason`` is empty, else why not (what `gamsi notifier route-test` prints)."""

    route: Route
    recipient: str
    contact: Contact
    reason: str = ""


def matching_routes(config: RoutingConfig, event: SeverityEvent) -> list[Route]:
    out = []
    for route in config.routes:
        if route.match.matches(event):
            out.append(route)
            if route.stop:
                break
    return out


def expand(config: RoutingConfig, names: tuple[str, ...]) -> list[Recipient]:
    """Recipients and, recursively, team members; each once, cycles ignored."""
    seen: dict[str, Recipient] = {}
    stack = list(reversed(names))
    while stack:
        name = stack.pop()
        if name in seen:
            continue
        recipient = config.recipients[name]
        seen[name] = recipient
        stack.extend(reversed(recipient.members))
    return list(seen.values())


def why_not(contact: Contact, level: int, ts: float) -> str:
    """Why ``contact`` does not take an event of ``level`` at ``ts`` ('' when it does)."""
    if contact.severities is not None and level not in contact.severities:
        names = ", ".join(Severity(s).name.lower() for s in sorted(contact.severities))
        return f"severity filter: takes only {names}"
    if contact.window is not None and not contact.window.active(ts):
        return f"out of hours: {contact.window.describe()}"
    return ""


def choices(
    config: RoutingConfig,
    event: SeverityEvent,
    route: Route,
    names: tuple[str, ...],
    now: float,
    kind: str,
) -> list[Choice]:
    """Every contact of ``names`` (teams expanded) for ``event`` on ``route`` at ``now``:
    taken, or why not (its severities, its hours, an address already taken)."""
    level = event.previous if kind == "recover" else event.severity
    out: list[Choice] = []
    reached: set[tuple[str, str]] = set()
    for recipient in expand(config, names):
        for contact in recipient.contacts:
            where = (contact.channel, contact.to)
            reason = why_not(contact, level, now)
            if not reason and where in reached:
                reason = "same channel and address as an earlier contact of this route"
            if not reason:
                reached.add(where)
            out.append(Choice(route, recipient.name, contact, reason))
    return out


def deliveries_for(
    config: RoutingConfig,
    event: SeverityEvent,
    route: Route,
    names: tuple[str, ...],
    now: float,
    kind: str,
    step: str = "",
) -> list[Delivery]:
    """One delivery per contact of ``names`` that takes the event's level at ``now``."""
    return [
        Delivery(event, route, c.recipient, c.contact, kind, step)
        for c in choices(config, event, route, names, now, kind)
        if not c.reason
    ]


def route_names(route: Route, escalated: dict[str, int] | None) -> tuple[str, ...]:
    """The route's recipients plus those of the escalation steps fired on it."""
    names = route.recipients
    for step in route.escalations[: (escalated or {}).get(route.name, 0)]:
        names = (*names, *step.recipients)
    return names


def unreached(
    config: RoutingConfig, event: SeverityEvent, now: float, escalated: dict[str, int]
) -> list[dict[str, Any]]:
    """``no_contact`` delivery-log records, one per route that matches ``event`` (a raise
    or escalation), when none of the contacts of any of them takes it at ``now``; empty
    when no route matches or some contact takes it (then :func:`route_event` has
    deliveries)."""
    kind = kind_of(event)
    found = [
        (route, names, choices(config, event, route, names, now, kind))
        for route in matching_routes(config, event)
        if kind != "recover" or route.notify_recovery
        for names in [route_names(route, escalated)]
    ]
    if any(not c.reason for _, _, cs in found for c in cs):
        return []
    out = []
    for route, names, cs in found:
        reason = "; ".join(f"{c.recipient} {c.contact.channel}: {c.reason}" for c in cs)
        out.append(
            no_contact_record(event, route.name, ",".join(names), reason or "no contact", now)
        )
    return out


def fallback_deliveries(config: RoutingConfig, event: SeverityEvent) -> list[Delivery]:
    """Deliveries to ``defaults.fallback`` for an event that matched routes and reached no
    contact: every contact of the fallback recipients, whatever their hours and severities
    (the last resort must hear it); without ``defaults.fallback``, the log console."""
    kind = kind_of(event)
    route = Route(FALLBACK_ROUTE, Match(), config.fallback or ("console",))
    if not config.fallback:
        return [Delivery(event, route, "console", Contact(FALLBACK_CHANNEL, ""), kind)]
    reached: dict[tuple[str, str], Delivery] = {}
    for recipient in expand(config, config.fallback):
        for c in recipient.contacts:
            reached.setdefault((c.channel, c.to), Delivery(event, route, recipient.name, c, kind))
    return list(reached.values())


def kind_of(event: SeverityEvent) -> str:
    """The message kind of a transition: raise, escalate, deescalate or recover."""
    if event.transition in {"escalate", "deescalate", "recover"}:
        return event.transition
    return "recover" if event.severity == 0 else "raise"


def route_event(
    config: RoutingConfig, event: SeverityEvent, now: float, escalated: dict[str, int] | None = None
) -> list[Delivery]:
    """Deliveries for a transition by the routes; ``escalated`` (route → steps fired) adds
    those steps' recipients."""
    kind = kind_of(event)
    out: list[Delivery] = []
    for route in matching_routes(config, event):
        if kind == "recover" and not route.notify_recovery:
            continue
        out.extend(deliveries_for(config, event, route, route_names(route, escalated), now, kind))
    return out


def to_told(config: RoutingConfig, event: SeverityEvent, told: Iterable[Told]) -> list[Delivery]:
    """A de-escalation or recovery for each contact that was told about the problem.

    Severity filters and hours are not applied: whoever heard "URGENT" hears how it
    ended. A route that says ``notify_recovery: false`` gets no recovery. A route,
    recipient or contact that left the routing file since is still told, with the
    contact as it was remembered (the channel must still exist to send).
    """
    kind = kind_of(event)
    routes = {r.name: r for r in config.routes}
    out: list[Delivery] = []
    for route_name, recipient, channel, to in told:
        route = routes.get(route_name) or Route(route_name, Match(), ())
        if kind == "recover" and not route.notify_recovery:
            continue
        known = config.recipients.get(recipient)
        contact = next(
            (c for c in (known.contacts if known else ()) if (c.channel, c.to) == (channel, to)),
            Contact(channel, to),
        )
        out.append(Delivery(event, route, recipient, contact, kind))
    return out
