"""The notifier's chain: route → mute → dedup → group → fan-out → retry, without Kafka.

Order, and why it differs slightly from "dedup first": the idempotency key is
per event *and* route *and* recipient, so deduplication can only run once the
route stage has named them; maintenance runs after routing so that every
suppressed delivery is logged with the route and recipient it would have gone to.

The pipeline never reads the wall clock (``now`` is passed in) and talks to Kafka
only through the :class:`Ledger` and :class:`DeliverySink` it is given, so the
whole chain is unit-tested in memory and the service wires it to the broker.

Exactly-once per target: before a send the ledger gets ``pending:<key>``; after
it, ``sent:<key>``; only then does the caller commit the consumer offset. After a
crash, a target with ``sent`` is skipped; one with only ``pending`` is checked
with the channel when the channel can tell (Slack: message metadata), and sent
again otherwise (the one remaining window, documented in docs/notifications.md).
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from gamsi.notifier.channels import Channel, ChannelError, Receipt
from gamsi.notifier.deliveries import DeliverySink, delivery_record
from gamsi.notifier.group import Group, Grouper
from gamsi.notifier.ledger import Ledger, Value
from gamsi.notifier.lifecycle import ProblemBook
from gamsi.notifier.message import Notification
from gamsi.notifier.mute import muted_by
from gamsi.notifier.retry import RateLimiter, RetryPolicy, Sleep, deliver
from gamsi.notifier.route import route_event
from gamsi.notifier.routing import RoutingConfig
from gamsi.notifier.targets import Target, problem_key
from gamsi.schemas.records import SeverityEvent

log = logging.getLogger(__name__)


@dataclass
class PipelineOptions:
    storm_window: float = 0.1
    dashboard_url: str = ""
    policy: RetryPolicy = field(default_factory=RetryPolicy)


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
        self.channels = channels
        self.limiters = limiters
        self.ledger = ledger
        self.sink = sink
        self.options = options or PipelineOptions()
        self.sleep = sleep
        self.book = ProblemBook()
        self.grouper = Grouper()
        self._outstanding: Counter[Any] = Counter()
        self._finished: list[Any] = []
        self._records: list[dict[str, Any]] = []
        self._writes: dict[str, Value] = {}
        self._closed_acks: dict[str, str] = {}
        for key, body in ledger.items("problem:"):
            self.book.load(key.removeprefix("problem:"), body)

    # -- intake -------------------------------------------------------------------

    def accept(self, event: SeverityEvent, ref: Any, now: float) -> None:
        """Route one event and buffer its targets; ``ref`` is reported done once all went out."""
        problem = self.book.find(event)
        escalated = dict(problem.escalated) if problem else {}
        self.book.apply(event, now)
        if event.transition == "recover" and problem is not None and problem.acked_by:
            self._closed_acks[problem.key] = problem.acked_by
        targets = route_event(self.config, event, now, escalated)
        window = muted_by(self.config, event, now)
        for target in targets:
            if window:
                self._record(target, "suppressed", 0, f"maintenance {window.name}", now)
            elif self.ledger.get(f"sent:{target.key}"):
                self._record(target, "deduplicated", 0, "", now)
            else:
                self._buffer(target, ref, now)
        if self._outstanding[ref] == 0:
            self._finished.append(ref)

    def acknowledge(self, event_id: str, by: str, at: float) -> bool:
        return self.book.acknowledge(event_id, by, at) is not None

    def tick(self, now: float) -> int:
        """Buffer the re-notifications and escalations due now; returns how many."""
        due = [t for t in self.book.due(self.config, now) if not self.ledger.get(f"sent:{t.key}")]
        for target in due:
            self._buffer(target, None, now)
        return len(due)

    def _buffer(self, target: Target, ref: Any, now: float) -> None:
        window = target.route.group_window
        if window is None:
            window = self.config.group_window
        if window is None:
            window = self.options.storm_window
        thread = ""
        if target.kind != "raise":
            stored = self.ledger.get(f"thread:{target.thread_key}")
            thread = str(stored.get("ref", "")) if stored else ""
        self.grouper.add(target, ref, now, window, thread)
        if ref is not None:
            self._outstanding[ref] += 1

    # -- output -------------------------------------------------------------------

    def next_due(self) -> float | None:
        return self.grouper.next_close()

    async def flush(self, now: float, everything: bool = False) -> list[Any]:
        """Send the groups whose window closed, persist, publish; returns the finished refs."""
        groups = self.grouper.drain() if everything else self.grouper.due(now)
        if groups:
            # pending before this flush wrote it = in flight when an earlier run died
            uncertain: dict[str, list[str]] = {}
            for g in groups:
                for t in g.targets:
                    earlier = self.ledger.get(f"pending:{t.key}")
                    if earlier is not None:
                        uncertain[t.key] = [str(k) for k in earlier.get("n", [])]
            # every key a message for this target may carry, so a later run can look for each
            await self.ledger.put_many(
                {
                    f"pending:{t.key}": {"n": [*uncertain.get(t.key, []), g.targets[0].key]}
                    for g in groups
                    for t in g.targets
                }
            )
            await asyncio.gather(*(self._send_group(g, now, uncertain) for g in groups))
        self._writes.update({f"problem:{k}": v for k, v in self.book.take_dirty().items()})
        writes, self._writes = self._writes, {}
        await self.ledger.put_many(writes)
        if self._records:
            records, self._records = self._records, []
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

    async def _send_group(self, group: Group, now: float, uncertain: dict[str, list[str]]) -> None:
        first = group.targets[0]
        channel = self.channels[first.contact.channel]
        todo = [t for t in group.targets if not self.ledger.get(f"sent:{t.key}")]
        todo = await self._reconcile(channel, group, todo, uncertain, now)
        if not todo:
            return
        problem = self.book.find(todo[0].event)
        acked = problem.acked_by if problem else ""
        if todo[0].kind == "recover":
            acked = self._closed_acks.get(problem_key(todo[0].event), "")
        n = notification_for(first, [t.event for t in todo], now, first.key, group.thread_ref)
        n.acked_by, n.dashboard_url = acked, self.options.dashboard_url
        outcome = await deliver(
            lambda: channel.send(n), self.options.policy, self.limiters[channel.name], self.sleep
        )
        result = "sent" if outcome.ok else "failed"
        if not outcome.ok:
            log.warning("delivery failed on %s: %s", channel.name, outcome.error)
        ref = outcome.receipt.ref if outcome.receipt else ""
        self._done(todo, result, ref, now)
        for t in todo:
            self._record(t, result, outcome.attempts, outcome.error, now)

    async def _reconcile(
        self,
        channel: Channel,
        group: Group,
        todo: list[Target],
        uncertain: dict[str, list[str]],
        now: float,
    ) -> list[Target]:
        """Targets whose send was in flight at a crash: ask the channel before resending."""
        find = getattr(channel, "find_sent", None)
        doubtful = [t for t in todo if t.key in uncertain]
        if find is None or not doubtful:
            return todo
        settled: list[Target] = []
        answers: dict[str, Receipt | None] = {}
        for target in doubtful:
            receipt = None
            for key in uncertain[target.key]:
                if key not in answers:
                    answers[key] = await self._probe(find, target, key, group.thread_ref, now)
                receipt = answers[key]
                if receipt is not None:
                    break
            if receipt is not None:
                self._done([target], "sent", receipt.ref, now)
                self._record(target, "deduplicated", 0, "found at the channel", now)
                settled.append(target)
        return [t for t in todo if t not in settled]

    async def _probe(
        self, find: Any, target: Target, key: str, thread_ref: str, now: float
    ) -> Receipt | None:
        try:
            return await find(notification_for(target, [target.event], now, key, thread_ref))
        except ChannelError as exc:  # cannot tell: send again (at least once)
            log.warning("cannot check an earlier send on %s: %s", target.contact.channel, exc)
            return None

    def _done(self, targets: list[Target], result: str, ref: str, now: float) -> None:
        values: dict[str, Value] = {}
        for t in targets:
            values[f"sent:{t.key}"] = {"r": result, "ref": ref, "ts": now}
            values[f"pending:{t.key}"] = None
            if t.kind == "raise" and ref and result == "sent":
                values[f"thread:{t.thread_key}"] = {"ref": ref}
            elif t.kind == "recover":
                values[f"thread:{t.thread_key}"] = None
        self._writes.update(values)

    def _record(self, target: Target, result: str, attempts: int, error: str, now: float) -> None:
        self._records.append(delivery_record(target, result, attempts, error, now))


def notification_for(
    target: Target, events: list[SeverityEvent], at: float, key: str, thread_ref: str
) -> Notification:
    """The message for ``target``'s route, recipient and contact, covering ``events``."""
    return Notification(
        route=target.route.name,
        recipient=target.recipient,
        channel=target.contact.channel,
        address=target.contact.to,
        kind=target.kind,
        events=events,
        at=at,
        key=key,
        thread_ref=thread_ref,
    )
