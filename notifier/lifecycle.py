"""Problems between raise and recovery: re-notification, escalation and acknowledgement.

A problem is one watch on one host's item (see :func:`problem_key`). It opens on
the first raise, follows escalations, and closes on recovery. While it is open
and nobody acknowledged it, :meth:`ProblemBook.due` returns the follow-ups that
are due at ``now``: a re-notification every ``renotify_every`` seconds and each
escalation step whose ``after`` has passed. Follow-up keys are derived from the
time since the first notice (``renotify:3``, ``escalation:0``), so a restarted
notifier computes the same keys and the ledger drops what already went out.
The book is saved in the ledger (``problem:<key>``) and loaded at start.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from gamsi.notifier.route import matching_routes, targets_for
from gamsi.notifier.routing import RoutingConfig
from gamsi.notifier.targets import Target, problem_key
from gamsi.schemas.records import SeverityEvent


@dataclass
class Problem:
    key: str
    event: SeverityEvent
    first_at: float
    event_ids: list[str] = field(default_factory=list)
    acked_by: str = ""
    acked_at: float = 0.0
    escalated: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        body = asdict(self)
        body["event"] = asdict(self.event)
        return body

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> Problem:
        body = dict(body)
        body["event"] = SeverityEvent(**body["event"])
        return cls(**body)


class ProblemBook:
    def __init__(self) -> None:
        self.problems: dict[str, Problem] = {}
        self._early_acks: dict[str, tuple[str, float]] = {}
        self.dirty: set[str] = set()

    def apply(self, event: SeverityEvent, now: float) -> Problem | None:
        """Record a transition; returns the problem (on recovery, the one that closed)."""
        key = problem_key(event)
        problem = self.problems.get(key)
        self.dirty.add(key)
        if event.transition == "recover" or event.severity == 0:
            return self.problems.pop(key, problem)
        if problem is None:
            problem = self.problems[key] = Problem(key, event, now)
        problem.event = event
        if event.event_id not in problem.event_ids:
            problem.event_ids.append(event.event_id)
        if event.event_id in self._early_acks:
            problem.acked_by, problem.acked_at = self._early_acks.pop(event.event_id)
        return problem

    def acknowledge(self, event_id: str, by: str, at: float) -> Problem | None:
        """Mark the problem that ``event_id`` belongs to; remembered if it is not known yet."""
        for problem in self.problems.values():
            if event_id in problem.event_ids:
                if not problem.acked_by:
                    problem.acked_by, problem.acked_at = by, at
                    self.dirty.add(problem.key)
                return problem
        self._early_acks[event_id] = (by, at)
        return None

    def find(self, event: SeverityEvent) -> Problem | None:
        return self.problems.get(problem_key(event))

    def due(self, config: RoutingConfig, now: float) -> list[Target]:
        """Follow-ups due now for every open, unacknowledged problem."""
        out: list[Target] = []
        for problem in self.problems.values():
            if problem.acked_by:
                continue
            age = now - problem.first_at
            for route in matching_routes(config, problem.event):
                fired = problem.escalated.get(route.name, 0)
                for i, step in enumerate(route.escalations):
                    if i >= fired and age >= step.after:
                        out += targets_for(
                            config,
                            problem.event,
                            route,
                            step.recipients,
                            now,
                            "escalation",
                            f"escalation:{i}",
                        )
                        problem.escalated[route.name] = i + 1
                        self.dirty.add(problem.key)
                every = route.renotify_every or config.renotify_every
                if every > 0 and age >= every:
                    names = route.recipients
                    for step in route.escalations[: problem.escalated.get(route.name, 0)]:
                        names = (*names, *step.recipients)
                    n = int(age // every)
                    out += targets_for(
                        config, problem.event, route, names, now, "renotify", f"renotify:{n}"
                    )
        return out

    def take_dirty(self) -> dict[str, dict[str, Any] | None]:
        """Changed problems as ledger values (None = closed), and forget they changed."""
        out = {}
        for key in self.dirty:
            problem = self.problems.get(key)
            out[key] = problem.to_json() if problem else None
        self.dirty.clear()
        return out

    def load(self, key: str, body: dict[str, Any]) -> None:
        self.problems[key] = Problem.from_json(body)
