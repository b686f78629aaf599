"""Problems between raise and recovery: who was told, follow-ups and acknowledgement.

A problem is one watch on one host's item instance (see :func:`problem_key`); an
*occurrence* of it runs from a raise to its recovery and is named by the problem
key and the id of the event that opened it. While it is open the book keeps:

- ``told``: every (route, recipient, channel, address) a message about it went to
  (or is on its way to). De-escalations and the recovery go to exactly that set
  (docs/notifications.md, "Who hears how it ended").
- ``escalated``: escalation steps fired per route; ``acked_by``: who acknowledged
  this occurrence (an ack never carries over to the next one).

:meth:`ProblemBook.due` returns the follow-ups due at ``now``: a re-notification
every ``renotify_every`` seconds and each escalation step whose ``after`` has
passed. Follow-up keys are derived from the time since the first notice
(``renotify:3``, ``escalation:0``), so a restarted notifier computes the same keys
and the ledger drops what already went out.

A recovery that maintenance held back for a contact that was told is a
:class:`Held` entry until the window ends. The book is saved in the ledger
(``problem:<key>``, ``held:<occurrence>``) and loaded at start.
"""

from __future__ import annotations

import logging
from collections.abc import Container
from dataclasses import asdict, dataclass, field
from typing import Any

from gamsi.notifier.deliveries import Delivery, Told, problem_key
from gamsi.notifier.route import deliveries_for, matching_routes
from gamsi.notifier.routing import RoutingConfig
from gamsi.schemas.records import SeverityEvent

log = logging.getLogger(__name__)


@dataclass
class Problem:
    """One open occurrence of a problem; ``told`` maps a Told entry to "confirmed sent"
    (False while the message is in flight); ``told`` is None for a problem saved by a
    notifier that did not keep the set (its recovery is routed as before)."""

    key: str
    event: SeverityEvent
    first_at: float
    event_ids: list[str] = field(default_factory=list)
    acked_by: str = ""
    acked_at: float = 0.0
    ack_comment: str = ""
    escalated: dict[str, int] = field(default_factory=dict)
    told: dict[Told, bool] | None = field(default_factory=dict)
    muted: list[str] = field(default_factory=list)
    partition: int = -1
    """The events partition its last event came from (-1: unknown, saved before it was
    kept); its owner acts on its timers (:mod:`gamsi.notifier.ownership`)."""

    @property
    def opened_by(self) -> str:
        """The id of the event that opened this occurrence."""
        return self.event_ids[0] if self.event_ids else self.event.event_id

    @property
    def occurrence(self) -> str:
        return f"{self.key}#{self.opened_by}"

    def to_json(self) -> dict[str, Any]:
        body = asdict(self)
        body["event"] = asdict(self.event)
        body["told"] = None if self.told is None else [[*k, v] for k, v in self.told.items()]
        return body

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> Problem:
        body = dict(body)
        body["event"] = SeverityEvent(**body["event"])
        told = body.pop("told", None)
        # a message still in flight when the ledger was written is sent again after a
        # restart (its event is consumed again, or its follow-up is due again), and that
        # send adds its contact again: until then, the contact has not been told
        body["told"] = None if told is None else {tuple(t[:4]): True for t in told if t[4]}
        return cls(**body)


@dataclass
class Held:
    """A recovery that maintenance held back for contacts that were told (``owed``)."""

    occurrence: str
    event: SeverityEvent
    owed: list[Told]
    acked_by: str = ""
    note: str = ""
    """What held it (``maintenance NAME``, ``silence ... by ...: comment``), for the message."""
    partition: int = -1
    """Its problem's events partition (:attr:`Problem.partition`)."""

    def to_json(self) -> dict[str, Any]:
        return {
            "occurrence": self.occurrence,
            "event": asdict(self.event),
            "owed": [list(t) for t in self.owed],
            "acked_by": self.acked_by,
            "note": self.note,
            "partition": self.partition,
        }

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> Held:
        owed = [(str(a), str(b), str(c), str(d)) for a, b, c, d in body["owed"]]
        event = SeverityEvent(**body["event"])
        note, partition = str(body.get("note", "")), int(body.get("partition", -1))
        return cls(body["occurrence"], event, owed, body["acked_by"], note, partition)


class ProblemBook:
    """Open problems by key and held recoveries by occurrence; ``dirty`` feeds the ledger."""

    def __init__(self) -> None:
        self.problems: dict[str, Problem] = {}
        self.held: dict[str, Held] = {}
        self.dirty: set[str] = set()

    # -- transitions --------------------------------------------------------------

    def find(self, event: SeverityEvent) -> Problem | None:
        """The open problem ``event`` belongs to.

        A de-escalation or recovery that names no item (sent by a stream worker from
        before the identity fix, issue 9 item 12) closes the one open problem with the
        same host, watch and instance, if there is exactly one.
        """
        problem = self.problems.get(problem_key(event))
        if problem is not None or event.item or event.transition not in {"recover", "deescalate"}:
            return problem
        same = [
            p
            for p in self.problems.values()
            if (p.event.host, p.event.watch, p.event.instance)
            == (event.host, event.watch, event.instance)
        ]
        return same[0] if len(same) == 1 else None

    def apply(self, event: SeverityEvent, now: float) -> Problem | None:
        """Record a transition; returns the problem (on recovery, the one that closed)."""
        found = self.find(event)
        key = found.key if found is not None else problem_key(event)
        self.dirty.add(f"problem:{key}")
        if event.transition == "recover" or event.severity == 0:
            return self.problems.pop(key, None)
        problem = found
        if problem is None:
            problem = self.problems[key] = Problem(key, event, now)
        problem.event = event
        if event.event_id not in problem.event_ids:
            problem.event_ids.append(event.event_id)
        return problem

    def tell(self, problem: Problem, told: Told) -> None:
        """``told`` is being sent a message about ``problem``."""
        if problem.told is not None and told not in problem.told:
            problem.told[told] = False
            self.dirty.add(f"problem:{problem.key}")

    def outcome(self, delivery: Delivery, sent: bool) -> None:
        """A message about an open problem was sent or failed: confirm or forget the contact."""
        problem = self.problems.get(problem_key(delivery.event))
        if problem is None or problem.told is None or delivery.told not in problem.told:
            return
        if delivery.event.event_id not in problem.event_ids:
            return  # an earlier occurrence
        if sent:
            problem.told[delivery.told] = True
        elif not problem.told[delivery.told]:
            del problem.told[delivery.told]  # it never heard of the problem
        self.dirty.add(f"problem:{problem.key}")

    # -- acknowledgements ---------------------------------------------------------

    def open_with(self, event_id: str) -> Problem | None:
        """The open problem one of whose events is ``event_id``."""
        return next((p for p in self.problems.values() if event_id in p.event_ids), None)

    def acknowledge(self, ack: dict[str, Any]) -> Problem | None:
        """Apply an ack record (:mod:`gamsi.notifier.ack`) to the occurrence it names.

        Returns the problem, or None when that occurrence is no longer open (an ack
        never applies to a later occurrence of the same problem).
        """
        if ack.get("problem"):
            problem = self.problems.get(ack["problem"])
            if problem is None or problem.opened_by != ack.get("opened"):
                return None
        else:  # a record from before acks named their occurrence
            problem = self.open_with(ack["event_id"])
            if problem is None:
                return None
        if ack.get("undo"):
            problem.acked_by, problem.acked_at, problem.ack_comment = "", 0.0, ""
        elif not problem.acked_by:
            problem.acked_by, problem.acked_at = ack["by"], float(ack["at"])
            problem.ack_comment = str(ack.get("comment", ""))
        self.dirty.add(f"problem:{problem.key}")
        return problem

    # -- follow-ups ---------------------------------------------------------------

    def due(
        self, config: RoutingConfig, problem: Problem, now: float, mark: bool = True
    ) -> list[Delivery]:
        """Follow-ups of ``problem`` due at ``now`` (none once acknowledged).

        With ``mark`` the escalation steps returned count as fired; without it (the
        problem is under maintenance) they stay due until they can be sent.
        """
        if problem.acked_by:
            return []
        out: list[Delivery] = []
        age = now - problem.first_at
        for route in matching_routes(config, problem.event):
            fired = problem.escalated.get(route.name, 0)
            for i, step in enumerate(route.escalations):
                if i >= fired and age >= step.after:
                    out += deliveries_for(
                        config, problem.event, route, step.recipients, now, "escalation",
                        f"escalation:{i}",
                    )  # fmt: skip
                    if mark:
                        problem.escalated[route.name] = i + 1
                        self.dirty.add(f"problem:{problem.key}")
            every = route.renotify_every or config.renotify_every
            if every > 0 and age >= every:
                n = int(age // every)
                names = route.recipients
                for step in route.escalations[: problem.escalated.get(route.name, 0)]:
                    if step.after <= n * every:  # escalated before this period began
                        names = (*names, *step.recipients)
                out += deliveries_for(
                    config, problem.event, route, names, now, "renotify", f"renotify:{n}"
                )
        return out

    # -- held recoveries ----------------------------------------------------------

    def hold(
        self, problem: Problem, event: SeverityEvent, owed: list[Told], note: str = ""
    ) -> None:
        """Keep ``event`` (a recovery) for ``owed`` until the mute (``note`` says which)
        lets it go out."""
        held = self.held.setdefault(
            problem.occurrence,
            Held(problem.occurrence, event, [], problem.acked_by, note, problem.partition),
        )
        held.owed += [t for t in owed if t not in held.owed]
        self.dirty.add(f"held:{held.occurrence}")

    def release(self, held: Held) -> None:
        self.held.pop(held.occurrence, None)
        self.dirty.add(f"held:{held.occurrence}")

    # -- persistence --------------------------------------------------------------

    def take_dirty(self, waiting: Container[str] = ()) -> dict[str, dict[str, Any] | None]:
        """Changed entries as ledger values (None = gone), and forget they changed.

        Entries of a problem key in ``waiting`` (a message about it still waits to be
        sent) stay dirty: the ledger gets them with the message's ``sent`` marker, so
        that a notifier killed before the send (or taking over after it) finds the
        problem as it was and sends the message again — not a closed problem whose
        recovery nobody sends, nor an escalation step marked as fired that never went out.
        """
        out: dict[str, dict[str, Any] | None] = {}
        for name in list(self.dirty):
            kind, _, key = name.partition(":")
            if (key if kind == "problem" else key.rpartition("#")[0]) in waiting:
                continue
            entry = (self.problems if kind == "problem" else self.held).get(key)
            out[name] = entry.to_json() if entry else None
            self.dirty.discard(name)
        return out

    def clear(self) -> None:
        """Forget every problem and held recovery (the ledger keeps them)."""
        self.problems.clear()
        self.held.clear()
        self.dirty.clear()

    def load(self, name: str, body: dict[str, Any]) -> None:
        """One ledger entry (``problem:<key>`` or ``held:<occurrence>``) read at start."""
        kind, _, key = name.partition(":")
        try:
            if kind == "problem":
                self.problems[key] = Problem.from_json(body)
            elif kind == "held":
                self.held[key] = Held.from_json(body)
        except (TypeError, KeyError, ValueError) as exc:
            log.warning("ledger entry %s is not readable (%s): skipped", name, exc)
