"""A host's transitions ride in its state record until the broker has acknowledged them.

The stream worker writes a host's new state to a changelog-backed table and sends the
host's transitions to the events topic: two topics, no transaction between them. A
worker killed between the two (its state on the changelog, its events not yet on the
broker) left the next owner a state that already counted the batch: the replayed batch
was a repeat, so the transition was never sent by anyone. Seen once in the three-broker
failover test (a ``recover`` missing, its host's state restored past it).

The fix is the transactional outbox (Richardson, *Microservices Patterns*, ch. 3):
the record that holds the new state also holds the transitions not yet acknowledged
(``{"p": partition, "s": state, "o": [event, ...]}``). Whoever restores the record and
touches the host first sends them again: the same events with the same deterministic
``event_id``, which every consumer of the events topic already takes as one event
(the topic is read at least once). Once the send of every carried event is
acknowledged, the host's next write — its next batch, or the next tick if it has none —
leaves them out, so a record carries them for about one tick at most.

Pure: the acknowledgement is whatever ``send`` returned (an asyncio future from Faust's
``Topic.send``, or anything with ``done()`` and ``exception()``); nothing here talks
to Kafka.
"""

from __future__ import annotations

import logging
from collections import Counter
from typing import Any, Protocol

from gamsi.schemas.records import SeverityEvent

log = logging.getLogger(__name__)


class Acknowledgement(Protocol):
    """A send's outcome: asyncio.Future's ``done()`` and ``exception()``."""

    def done(self) -> bool: ...

    def exception(self) -> BaseException | None: ...


class Outbox:
    """The sends of this process, by event id, and what each host record must carry.

    Memory: one entry per transition this process sent and has not yet seen leave a
    record (a host that moves to another worker leaves its last entries until
    :meth:`prune`)."""

    def __init__(self, counts: Counter[str] | None = None) -> None:
        self._sends: dict[str, Acknowledgement] = {}
        self.counts: Counter[str] = Counter() if counts is None else counts
        """``transitions_resent``: carried events sent again (self-monitoring)."""

    def sent(self, event: SeverityEvent, ack: Acknowledgement) -> None:
        """``event`` was handed to the producer; ``ack`` completes when the broker has it."""
        self._sends[event.event_id] = ack

    def failed(self, event: SeverityEvent, exc: BaseException) -> None:
        """Handing ``event`` to the producer raised ``exc``: it stays owed, sent again at
        its host's next write."""
        self._sends[event.event_id] = _Failed(exc)

    def record(
        self, held: Any, value: dict[str, Any], transitions: list[SeverityEvent]
    ) -> tuple[dict[str, Any], list[SeverityEvent]]:
        """The record to write for a host, and the events to send now.

        ``held``: the host's record as the table holds it (None, this process's own write,
        or a record restored from the changelog, whose ``"s"`` is not yet an engine
        state); ``value``: the new record without an outbox (``{"p": .., "s": ..}``,
        changed in place); ``transitions``: what the engine just decided, in order.

        Carried events whose send is acknowledged are dropped; carried events restored
        from the changelog that this process has not sent, and events whose send failed,
        are sent again, first, in their order; the new transitions are carried and sent
        after them. Every event returned counts as being sent from this call on (until
        :meth:`sent` gives its acknowledgement), so that another agent writing the same
        host in the meantime (the ticks while an event is handed to the producer) neither
        sends it twice nor frees the record before the broker has it."""
        carried = held.get("o") if isinstance(held, dict) else None
        if not carried and not transitions:
            return value, transitions
        keep: list[SeverityEvent] = []
        again: list[SeverityEvent] = []
        for raw in carried or ():
            event = raw if isinstance(raw, SeverityEvent) else _event(raw)
            if event is None:
                continue  # not an event: dropped, never a reason to stop judging the host
            state = self._state(raw, event.event_id)
            if state == ACKNOWLEDGED:
                self._sends.pop(event.event_id, None)
                continue
            if state == OWED:
                again.append(event)
            keep.append(event)
        keep.extend(transitions)
        if keep:
            value["o"] = keep
        for event in again:
            self._sends[event.event_id] = _SENDING
        for event in transitions:
            self._sends[event.event_id] = _SENDING
        if not again:
            return value, transitions
        self.counts["transitions_resent"] += len(again)
        log.info(
            "host %s: %d transition(s) its record still owed sent again (%s)",
            again[0].host, len(again), ", ".join(e.transition for e in again),
        )  # fmt: skip
        return value, again + transitions

    def due(self, held: Any) -> bool:
        """Whether ``held`` must be written again although nothing else changed (a tick's
        write): every event it carries is acknowledged (the write frees the record), or
        one is owed (the write sends it again: a send that failed)."""
        carried = held.get("o") if isinstance(held, dict) else None
        if not carried:
            return False
        states = {self._state(raw, _id(raw)) for raw in carried}
        return states == {ACKNOWLEDGED} or OWED in states

    def _state(self, raw: Any, event_id: str) -> str:
        """One carried event's state: ACKNOWLEDGED, SENDING or OWED (to be sent)."""
        ack = self._sends.get(event_id)
        if ack is None:
            # this process's own write (an event object) whose acknowledged send was
            # pruned, or a record restored from the changelog that it never sent
            return ACKNOWLEDGED if isinstance(raw, SeverityEvent) else OWED
        if not ack.done():
            return SENDING
        return OWED if ack.exception() is not None else ACKNOWLEDGED

    def prune(self) -> None:
        """Forget acknowledged sends (after a rebalance: their hosts may have moved). A
        record this process wrote still counts them as acknowledged; a record restored
        from the changelog that still carries one has it sent again (the same id)."""
        done = [i for i, ack in self._sends.items() if ack.done() and ack.exception() is None]
        for event_id in done:
            del self._sends[event_id]

    def __len__(self) -> int:
        return len(self._sends)


ACKNOWLEDGED, SENDING, OWED = "acknowledged", "sending", "owed"


class _Sending:
    """The acknowledgement of a send not yet handed to the producer."""

    def done(self) -> bool:
        return False

    def exception(self) -> BaseException | None:
        return None


_SENDING = _Sending()


class _Failed:
    """The acknowledgement of a send that never reached the producer."""

    def __init__(self, exc: BaseException) -> None:
        self._exc = exc

    def done(self) -> bool:
        return True

    def exception(self) -> BaseException | None:
        return self._exc


def _id(raw: Any) -> str:
    if isinstance(raw, SeverityEvent):
        return raw.event_id
    return str(raw.get("event_id", "")) if isinstance(raw, dict) else ""


def _event(raw: Any) -> SeverityEvent | None:
    """A carried event as restored from the changelog (orjson's form of the dataclass);
    None for anything else."""
    try:
        fields = SeverityEvent.__dataclass_fields__
        return SeverityEvent(**{k: v for k, v in dict(raw).items() if k in fields})
    except (TypeError, ValueError):
        log.warning("dropping a carried event that is not one: %.200r", raw)
        return None
