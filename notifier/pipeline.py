"""The notifier's chain: route → mute → dedup → group → fan-out → retry, without Kafka.

Order, and why it differs slightly from "dedup first": the idempotency key is
per event *and* route *and* recipient, so deduplication can only run once the
route stage has named them; maintenance runs after routing so that every
suppressed delivery is logged with the route and recipient it would have gone to.

Who is told, as a whole (docs/notifications.md, "Lifecycle of a problem"):

- raises and escalations go where the routes send them now (severities, hours);
  re-notifications and escalation steps likewise, from :meth:`Pipeline.tick`;
- every contact a message about a problem goes to joins the problem's ``told``
  set; de-escalations and the recovery go to exactly that set, whatever the
  contacts' filters say now — never to a contact that did not hear of it;
- maintenance covers every path that sends: a new event, a re-notification, an
  escalation step (which then fires when the window ends). A recovery it
  suppresses for a contact that was told is held and delivered when it ends.

The pipeline never reads the wall clock (``now`` is passed in) and talks to Kafka
only through the :class:`Ledger` and :class:`DeliverySink` it is given, so the
whole chain is unit-tested in memory and the service wires it to the broker.
Sending, the ledger's markers and exactly-once are in :mod:`gamsi.notifier.outbox`.
"""

from __future__ import annotations

import asyncio
import logging
from collections import ChainMap, Counter
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from gamsi.notifier.channels import Channel
from gamsi.notifier.channels.console import ConsoleChannel
from gamsi.notifier.deliveries import Delivery, DeliverySink, Told, problem_key, thread_key
from gamsi.notifier.group import Grouper
from gamsi.notifier.ledger import Ledger
from gamsi.notifier.lifecycle import Problem, ProblemBook
from gamsi.notifier.mute import Mute, muted_by
from gamsi.notifier.outbox import Outbox
from gamsi.notifier.ownership import Ownership
from gamsi.notifier.prune import PRUNE_EVERY, keep_time, rebuild, sweep
from gamsi.notifier.remediation import MAX_AGE, RemediationNotes
from gamsi.notifier.retry import RateLimiter, RetryPolicy, Sleep
from gamsi.notifier.route import (
    FALLBACK_CHANNEL,
    FOLLOWS,
    fallback_deliveries,
    kind_of,
    route_event,
    to_told,
    unreached,
)
from gamsi.notifier.routing import RoutingConfig
from gamsi.notifier.secrets import Secrets
from gamsi.notifier.silences import SilenceBook
from gamsi.remediator.records import ESCALATING
from gamsi.schemas.records import SeverityEvent

log = logging.getLogger(__name__)


@dataclass
class PipelineOptions:
    storm_window: float = 0.1
    dashboard_url: str = ""
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    ledger_keep: float = 86400.0
    """Seconds a closed problem's ledger markers are kept (at least :func:`min_keep`)."""


class Pipeline:
    def __init__(
        self,
        config: RoutingConfig,
        channels: Mapping[str, Channel],
        limiters: Mapping[str, RateLimiter],
        ledger: Ledger,
        sink: DeliverySink,
        options: PipelineOptions | None = None,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.config = config
        self.ledger = ledger
        self.sink = sink
        self.options = options or PipelineOptions()
        self.book = ProblemBook()
        self.grouper = Grouper()
        # the fallback's last resort, the log, behind the routing file's channels
        console = ConsoleChannel(FALLBACK_CHANNEL, {"stream": "log"}, Secrets())
        channels = ChainMap(channels, {FALLBACK_CHANNEL: console})  # type: ignore[arg-type]
        limiters = ChainMap(limiters, {FALLBACK_CHANNEL: RateLimiter()})  # type: ignore[arg-type]
        self.outbox = Outbox(
            channels, limiters, ledger, self.book, self.options.policy, sleep,
            self.options.dashboard_url,
        )  # fmt: skip
        self._outstanding: Counter[Any] = Counter()
        self._finished: list[Any] = []
        self._waiting: Counter[str] = Counter()  # problem keys of buffered deliveries
        self._acks: dict[tuple[str, str], dict[str, Any]] = {}  # every ack seen, latest
        self._rows: list[Any] = []  # remediator rows that escalate (the last MAX_AGE)
        self._next_prune = 0.0
        self.ownership = Ownership()  # the events partitions this notifier acts for
        self.take_over(None, 1)
        self.notes = RemediationNotes()
        self.outbox.remediation = self.notes.line
        self.silences = SilenceBook()
        """Silences in force (the service follows the silences topic into it)."""

    def muted(self, event: SeverityEvent, now: float) -> Mute | None:
        """The maintenance window or silence that mutes ``event`` now (:mod:`.mute`)."""
        return muted_by(self.config, event, now, self.silences)

    # -- intake -------------------------------------------------------------------

    def accept(self, event: SeverityEvent, ref: Any, now: float, partition: int = -1) -> None:
        """Route one event and buffer its deliveries; ``ref`` is reported done once all went
        out. ``partition``: the events partition it came from (-1: unknown)."""
        self.notes.seen(event)
        problem = self.book.find(event)
        if problem is not None and not event.item and problem.event.item:
            event = replace(event, item=problem.event.item)  # an old worker's policy recovery
        deliveries = self._deliveries(event, problem, now)
        current = self.book.apply(event, now)
        if current is not None and partition >= 0:
            current.partition = partition
        window = self.muted(event, now)
        owed: list[Told] = []
        for d in deliveries:
            if window is not None:
                held = d.kind == "recover" and problem is not None
                if held:
                    owed.append(d.told)
                self._suppressed(d, window, now, held)
            elif self.outbox.was_sent(d):
                self.outbox.record(d, "deduplicated", 0, "", now)
            else:
                self._buffer(d, ref, now)
                if current is not None and d.kind not in FOLLOWS:
                    self.book.tell(current, d.told)
                elif problem is not None and problem.told and not problem.told.get(d.told):
                    self.outbox.unconfirmed[d.key] = (problem.key, d.told)
                if d.kind == "recover" and current is not None:
                    self.outbox.acked[d.key] = current.acked_by
        if problem is not None and kind_of(event) == "recover":
            if owed and window is not None:
                self.book.hold(problem, event, owed, window.text)
            self._forget_threads(problem, {d.told for d in deliveries})
        if self._outstanding[ref] == 0:
            self._finished.append(ref)

    def _deliveries(
        self, event: SeverityEvent, problem: Problem | None, now: float
    ) -> list[Delivery]:
        if kind_of(event) not in FOLLOWS:
            escalated = dict(problem.escalated) if problem else {}
            out = route_event(self.config, event, now, escalated)
            if not out:  # matched routes, reached nobody: say so, and tell the fallback
                missed = unreached(self.config, event, now, escalated)
                self.outbox.records += missed
                if missed:
                    out = fallback_deliveries(self.config, event)
            return out
        if problem is None:
            log.info("%s: no open problem for %s, nobody to tell", event.event_id, event.transition)
            return []
        if problem.told is None:  # saved before the notifier kept who was told
            return route_event(self.config, event, now, dict(problem.escalated))
        return to_told(self.config, event, problem.told)

    def _suppressed(self, d: Delivery, window: Mute, now: float, held: bool) -> None:
        note = "; held until it ends" if held else ""
        self.outbox.record(d, "suppressed", 0, f"{window.text}{note}", now)

    def _forget_threads(self, problem: Problem, notified: set[Told]) -> None:
        """The closed problem's threads of contacts that get no recovery now."""
        held = self.book.held.get(problem.occurrence)
        for told in problem.told or {}:
            if told not in notified and not (held and told in held.owed):
                self.outbox.writes[f"thread:{thread_key(problem.key, told)}"] = None

    def acknowledge(self, ack: dict[str, Any]) -> bool:
        """Apply an ack record (:func:`gamsi.notifier.ack.parse_ack`); True if it named an
        open problem of this notifier. Every ack is kept (the latest per occurrence) and
        applied again to the problems a rebalance brings (:meth:`take_over`)."""
        occurrence = (str(ack.get("problem", "")), str(ack.get("opened") or ack.get("event_id")))
        self._acks[occurrence] = ack
        return self.book.acknowledge(ack) is not None

    def take_over(self, owned: set[int] | None, partitions: int, now: float = 0.0) -> int:
        """Act for the events partitions ``owned`` (None: all) of ``partitions``, with their
        problems as the ledger (read again to its end) has them (:func:`.prune.rebuild`),
        and the escalations of failed recovery scripts seen for them (rows of the last
        day: a previous owner may have died before it sent one). Returns those buffered."""
        self.ownership.assign(owned, partitions)
        rebuild(self.book, self.ledger, self.ownership.owns, self._acks.values())
        self._rows = [r for r in self._rows if now - r.ts < MAX_AGE]
        return sum(self._remediate(row, now) for row in self._rows)

    def prune(self, now: float) -> list[str]:
        """Tombstone the markers no crash can need any more (:mod:`.prune`); their keys."""
        o = self.options
        keep = keep_time(self.config, o.storm_window, o.policy, o.ledger_keep)
        gone = sweep(self.ledger, self.book, set(self._waiting), keep, now, self.ownership.owns)
        self.outbox.writes.update(dict.fromkeys(gone))
        return gone

    def remediation(self, row: Any, now: float) -> int:
        """A remediator row: noted for the recovery notice; a failed run escalates the
        problem (:mod:`gamsi.notifier.remediation`). Returns how many were buffered."""
        if row.status in ESCALATING:  # kept for a notifier that takes its partition over
            self._rows = [*(r for r in self._rows if now - r.ts < MAX_AGE), row]
        return self._remediate(row, now)

    def _remediate(self, row: Any, now: float) -> int:
        count = 0
        for d in self.notes.apply(self.config, self.book, row, now):
            problem = self.book.find(d.event)
            if problem is not None and self.ownership.owns(problem.event.host, problem.partition):
                count += self._follow_up(problem, d, self.muted(d.event, now), now)
        return count

    def tick(self, now: float) -> int:
        """Buffer the follow-ups and held recoveries due now; returns how many were buffered."""
        count, owns = 0, self.ownership.owns
        if now >= self._next_prune:
            self._next_prune = now + PRUNE_EVERY
            self.prune(now)
        for problem in list(self.book.problems.values()):
            if not owns(problem.event.host, problem.partition):
                continue  # another notifier's (a rebalance moved it)
            window = self.muted(problem.event, now)
            for d in self.book.due(self.config, problem, now, mark=window is None):
                count += self._follow_up(problem, d, window, now)
        for held in list(self.book.held.values()):
            if owns(held.event.host, held.partition) and self.muted(held.event, now) is None:
                for d in to_told(self.config, held.event, held.owed):
                    if not self.outbox.was_sent(d):
                        self.outbox.acked[d.key] = held.acked_by
                        if held.note:
                            self.outbox.held_by[d.key] = held.note
                        count += self._buffer(d, None, now)
                self.book.release(held)
        return count

    def _follow_up(self, problem: Problem, d: Delivery, window: Mute | None, now: float) -> int:
        """Buffer a follow-up of an open problem unless it went out, waits already, or a
        maintenance window covers it (then it is logged once, not on every tick)."""
        if self.outbox.was_sent(d) or self.grouper.holds(d.key):
            return 0
        if window is None:
            self.book.tell(problem, d.told)
            return self._buffer(d, None, now)
        if d.key not in problem.muted:
            problem.muted.append(d.key)
            self.book.dirty.add(f"problem:{problem.key}")
            self._suppressed(d, window, now, False)
        return 0

    def _buffer(self, d: Delivery, ref: Any, now: float) -> int:
        window = d.route.group_window
        if window is None:
            window = self.config.group_window
        if window is None:
            window = self.options.storm_window
        added = self.grouper.add(d, ref, now, window)
        if added:
            self._waiting[problem_key(d.event)] += 1
        if ref is not None:
            self._outstanding[ref] += 1
        return int(added)

    # -- output -------------------------------------------------------------------

    def next_due(self) -> float | None:
        return self.grouper.next_close()

    async def flush(self, now: float, everything: bool = False) -> list[Any]:
        """Send the groups whose window closed, persist, publish; returns the finished refs."""
        groups = self.grouper.drain() if everything else self.grouper.due(now)
        await self.outbox.send_groups(groups, now)
        for d in (d for g in groups for d in (*g.deliveries, *g.superseded)):
            self._waiting[problem_key(d.event)] -= 1
        self._waiting = +self._waiting  # drop the zeros
        out = self.outbox
        out.writes.update(self.book.take_dirty(self._waiting))
        writes, out.writes = out.writes, {}
        await self.ledger.put_many(writes)
        if out.records:
            records, out.records = out.records, []
            await self.sink.publish(records)
        finished, self._finished = self._finished, []
        for group in groups:
            for ref in group.refs:
                if ref is None:
                    continue
                self._outstanding[ref] -= 1
                if self._outstanding[ref] == 0:
                    del self._outstanding[ref]
                    finished.append(ref)
        return finished
