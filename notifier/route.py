"""The route stage: which recipients, through which contacts, get an event now.

Routes are tried in file order; every matching route applies unless a matching
route says ``stop: true``. Teams expand to their members (and the team's own
contacts); a contact takes the event only for its severities and inside its
active window, read at ``now`` in its own time zone. Recoveries are routed by
the severity that recovered (``previous``), so whoever got "URGENT" gets its
recovery, unless the route turned recovery notices off.
"""

from __future__ import annotations

from gamsi.notifier.routing import Recipient, Route, RoutingConfig
from gamsi.notifier.targets import Target
from gamsi.schemas.records import SeverityEvent


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


def targets_for(
    config: RoutingConfig,
    event: SeverityEvent,
    route: Route,
    names: tuple[str, ...],
    now: float,
    kind: str,
    step: str = "",
) -> list[Target]:
    level = event.previous if kind == "recover" else event.severity
    out: list[Target] = []
    reached: set[tuple[str, str]] = set()
    for recipient in expand(config, names):
        for contact in recipient.contacts:
            where = (contact.channel, contact.to)
            if where in reached or not contact.takes(level, now):
                continue
            reached.add(where)
            out.append(Target(event, route, recipient.name, contact, kind, step))
    return out


def route_event(
    config: RoutingConfig, event: SeverityEvent, now: float, escalated: dict[str, int] | None = None
) -> list[Target]:
    """Targets for a transition; ``escalated`` (route → steps fired) adds those recipients."""
    kind = (
        event.transition if event.transition in {"escalate", "deescalate", "recover"} else "raise"
    )
    out: list[Target] = []
    for route in matching_routes(config, event):
        if kind == "recover" and not route.notify_recovery:
            continue
        names = route.recipients
        fired = (escalated or {}).get(route.name, 0)
        for step in route.escalations[:fired]:
            names = (*names, *step.recipients)
        out.extend(targets_for(config, event, route, names, now, kind))
    return out
