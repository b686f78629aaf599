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

import asyncio
import logging
from collections import Counter
from collections.abc import Awaitable, Callable
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
        self._decided: list[SeverityEvent] = []  # decided, not yet handed to the producer
        self._lock = asyncio.Lock()
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
        carried = _carried(held)
        if not carried and not transitions:
            return value, transitions
        keep: list[SeverityEvent] = []
        again: list[SeverityEvent] = []
        for event, restored in carried:
            state = self._state(event.event_id, restored)
            if state == ACKNOWLEDGED:
                self._sends.pop(event.event_id, None)
                continue
            if state == OWED:
                again.append(event)
            keep.append(event)
        keep.extend(transitions)
        if keep:
            value["o"] = keep
        if again:
            self.counts["transitions_resent"] += len(again)
            log.info(
                "host %s: %d transition(s) its record still owed sent again (%s)",
                again[0].host, len(again), ", ".join(e.transition for e in again),
            )  # fmt: skip
            transitions = again + transitions
        for event in transitions:  # decided: being sent from now on, in this order
            self._sends[event.event_id] = _SENDING
            self._decided.append(event)
        return value, transitions

    def take(self) -> list[SeverityEvent]:
        """Every event decided since the last call, in the order decided (for a caller
        that hands them to the producer itself and reports each with :meth:`sent`)."""
        events = list(self._decided)
        self._decided.clear()
        return events

    async def flush(self, send: Callable[[SeverityEvent], Awaitable[Acknowledgement]]) -> int:
        """Hand every decided event to the producer with ``send`` (which returns the send's
        acknowledgement), in the order decided, whichever agent decided it: the batch
        agent and the ticks agent share one queue and take turns, so a host's events
        reach the topic in the order they were decided (a re-sent raise before the
        recover judged after it). If ``send`` raises, that event and every one after it
        stay owed (sent again at their host's next batch or tick) and the error is
        raised. Returns how many were handed over."""
        async with self._lock:
            events = self.take()
            for i, event in enumerate(events):
                try:
                    ack = await send(event)
                except BaseException as exc:
                    for unsent in events[i:]:
                        self.failed(unsent, exc)
                    raise
                self.sent(event, ack)
            return len(events)

    def due(self, held: Any) -> bool:
        """Whether ``held`` must be written again although nothing else changed (a tick's
        write): every event it carries is acknowledged (the write frees the record), or
        one is owed (the write sends it again: a send that failed)."""
        carried = _carried(held)
        if not carried:
            return False
        states = {self._state(event.event_id, restored) for event, restored in carried}
        return states == {ACKNOWLEDGED} or OWED in states

    def _state(self, event_id: str, restored: bool) -> str:
        """One carried event's state: ACKNOWLEDGED, SENDING or OWED (to be sent)."""
        ack = self._sends.get(event_id)
        if ack is None:
            # a record restored from the changelog that this process never sent, or this
            # process's own write (an event object) whose acknowledged send was pruned
            return OWED if restored else ACKNOWLEDGED
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


def _carried(held: Any) -> list[tuple[SeverityEvent, bool]]:
    """The events a host record carries, each with whether it was restored from the
    changelog (a dict there) rather than written by this process (an event object);
    anything that is not an event is left out (logged), never a reason to fail."""
    carried = held.get("o") if isinstance(held, dict) else None
    if not carried:
        return []
    if not isinstance(carried, list):
        log.warning("ignoring a host record's carried events that are not a list: %.200r", carried)
        return []
    out = []
    for raw in carried:
        if isinstance(raw, SeverityEvent):
            out.append((raw, False))
        elif (event := _event(raw)) is not None:
            out.append((event, True))
    return out


def _event(raw: Any) -> SeverityEvent | None:
    """A carried event as restored from the changelog (orjson's form of the dataclass);
    None for anything else."""
    fields = SeverityEvent.__dataclass_fields__
    if isinstance(raw, dict) and all(
        isinstance(raw.get(k), str) for k in ("event_id", "host", "transition")
    ):
        try:
            return SeverityEvent(**{k: v for k, v in raw.items() if k in fields})
        except Exception:  # a broken record is dropped, whatever it holds
            pass
    log.warning("dropping a carried event that is not one: %.200r", raw)
    return None
