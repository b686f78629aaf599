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

from gamsi.notifier.deliveries import Delivery, Told
from gamsi.notifier.routing import Contact, Match, Recipient, Route, RoutingConfig
from gamsi.schemas.records import SeverityEvent

FOLLOWS = frozenset({"deescalate", "recover"})
"""Transitions that go to whoever was told, not to whoever the routes would pick now."""


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
    level = event.previous if kind == "recover" else event.severity
    out: list[Delivery] = []
    reached: set[tuple[str, str]] = set()
    for recipient in expand(config, names):
        for contact in recipient.contacts:
            where = (contact.channel, contact.to)
            if where in reached or not contact.takes(level, now):
                continue
            reached.add(where)
            out.append(Delivery(event, route, recipient.name, contact, kind, step))
    return out


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
        names = route.recipients
        fired = (escalated or {}).get(route.name, 0)
        for step in route.escalations[:fired]:
            names = (*names, *step.recipients)
        out.extend(deliveries_for(config, event, route, names, now, kind))
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
