"""The sending half of the notifier's chain: messages, the ledger's markers, retry, splits.

A closed storm group becomes one or more messages to one contact:

- deliveries already sent (the ledger or this flush says so) are left out, so a
  regrouped message never re-includes what went out;
- deliveries that were in flight when an earlier run died are asked about at the
  channel when it can tell (Slack: message metadata), and otherwise sent in a
  message of their own, grouped as before, so it carries the same key;
- each message's idempotency key names exactly the deliveries it covers
  (:func:`message_key`): the same content gets the same key, other content another;
- each message lists a bounded number of events with bounded fields
  (:func:`gamsi.notifier.message.bounded`);
- a permanent failure of a message of several deliveries, which one member can
  cause (too large, a field the receiver refuses), is retried member by member
  (:meth:`Outbox.send`); a failure that every member gets is not.

Before a send the ledger gets ``pending:<key>`` (with the message keys it may
travel under); after it, ``sent:<key>``. Messages to one contact go out one after
the other, in the order :mod:`gamsi.notifier.group` gives their groups, so a recovery
never overtakes its raise; different contacts are served concurrently.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from gamsi.notifier.channels import Channel
from gamsi.notifier.deliveries import Delivery, Told, delivery_record, problem_key
from gamsi.notifier.group import Group
from gamsi.notifier.ledger import Ledger, Value
from gamsi.notifier.lifecycle import ProblemBook
from gamsi.notifier.message import Notification, bounded
from gamsi.notifier.prune import marker
from gamsi.notifier.reconcile import reconcile
from gamsi.notifier.retry import Outcome, RateLimiter, RetryPolicy, Sleep, deliver

log = logging.getLogger(__name__)

Attempt = Callable[[list[Delivery]], Awaitable[Outcome]]

MAX_SPLIT_SENDS = 64
"""Sends at most, per message, to find the members a permanent failure comes from."""


def message_key(deliveries: list[Delivery]) -> str:
    """The idempotency key of a message covering exactly ``deliveries``.

    One delivery: its own key (``event_id:route:recipient:channel[:step]``). Several:
    the smallest key, ``+N`` more, and a digest of all keys, so equal content has
    an equal key and different content (a regrouped message) a different one.
    """
    keys = sorted(d.key for d in deliveries)
    if len(keys) == 1:
        return keys[0]
    digest = hashlib.sha256("\n".join(keys).encode()).hexdigest()[:16]
    return f"{keys[0]}+{len(keys) - 1}:{digest}"


def notification_for(
    deliveries: list[Delivery], at: float, key: str, thread_ref: str
) -> Notification:
    """The message for the first delivery's route, recipient and contact, covering all."""
    first = deliveries[0]
    listed, omitted, omitted_hosts = bounded([d.event for d in deliveries])
    return Notification(
        route=first.route.name,
        recipient=first.recipient,
        channel=first.contact.channel,
        address=first.contact.to,
        kind=first.kind,
        events=listed,
        at=at,
        key=key,
        thread_ref=thread_ref,
        omitted=omitted,
        omitted_hosts=omitted_hosts,
    )


@dataclass
class Outbox:
    """Sends messages and collects what the ledger and the delivery log must learn."""

    channels: Mapping[str, Channel]
    limiters: Mapping[str, RateLimiter]
    ledger: Ledger
    book: ProblemBook
    policy: RetryPolicy
    sleep: Sleep
    dashboard_url: str = ""
    writes: dict[str, Value] = field(default_factory=dict)
    records: list[dict[str, Any]] = field(default_factory=list)
    acked: dict[str, str] = field(default_factory=dict)
    """Who acknowledged, by delivery key, for messages about problems already closed."""
    unconfirmed: dict[str, tuple[str, Told]] = field(default_factory=dict)
    """De-escalations and recoveries (by delivery key) decided while the message that told
    their contact was still on its way: (problem key, contact)."""
    never_told: set[tuple[str, Told]] = field(default_factory=set)
    """(problem key, contact) whose telling message failed: its ending is not sent."""
    held_by: dict[str, str] = field(default_factory=dict)
    """What held a recovery back (a maintenance window, a silence), by delivery key."""
    flapped: dict[str, int] = field(default_factory=dict)
    """Earlier transitions of its series a delivery replaced in its window, by key."""
    remediation: Callable[[Delivery], str] = field(default=lambda d: "")
    """The recovery-script line of a delivery's message (gamsi.notifier.remediation)."""

    def record(self, d: Delivery, result: str, attempts: int, error: str, now: float) -> None:
        self.records.append(delivery_record(d, result, attempts, error, now))

    def get(self, key: str) -> Value:
        """A ledger value, including what this flush wrote but did not persist yet."""
        return self.writes[key] if key in self.writes else self.ledger.get(key)

    def _was_told(self, d: Delivery) -> bool:
        """False for an ending whose contact's only message about the problem failed."""
        told = self.unconfirmed.pop(d.key, None)
        failed = told is not None and told in self.never_told
        if not self.unconfirmed:
            self.never_told.clear()
        if failed:
            log.info("%s: not sent, the contact never got the problem", d.key)
        return not failed

    def thread_of(self, d: Delivery) -> str:
        """The channel's reference of the first message of ``d``'s problem to its contact."""
        return str((self.get(f"thread:{d.thread_key}") or {}).get("ref", ""))

    def was_sent(self, d: Delivery) -> bool:
        return self.get(f"sent:{d.key}") is not None

    # -- closed groups ------------------------------------------------------------

    async def send_groups(self, groups: list[Group], now: float) -> None:
        """Closed storm groups: one contact's one after the other, in the order given
        (:meth:`gamsi.notifier.group.Grouper.due`), different contacts concurrently."""
        by_contact: dict[tuple[str, str], list[Group]] = {}
        for g in groups:
            first = (g.deliveries or g.superseded)[0]
            by_contact.setdefault((first.contact.channel, first.contact.to), []).append(g)
        await asyncio.gather(*(self._send_in_order(gs, now) for gs in by_contact.values()))

    async def _send_in_order(self, groups: list[Group], now: float) -> None:
        for group in groups:
            self._supersede(group.superseded, now)
            self.flapped.update(group.flaps)
            if group.deliveries:
                await self.send_group(group.deliveries, now)

    def _supersede(self, ds: list[Delivery], now: float) -> None:
        """Deliveries a later transition of their series replaced in the storm window
        (gamsi.notifier.group): marked done so a replay does not send them, logged."""
        for d in ds:
            self.writes[f"sent:{d.key}"] = marker(d, now, r="superseded", ref="")
            self.writes[f"pending:{d.key}"] = None
            self.record(d, "deduplicated", 0, "superseded by a later transition in its window", now)
            for pending in (self.unconfirmed, self.acked, self.held_by):
                pending.pop(d.key, None)

    async def send_group(self, deliveries: list[Delivery], now: float) -> None:
        """Everything of one storm group that has not gone out yet."""
        first = deliveries[0]
        channel = self.channels.get(first.contact.channel)
        todo = [d for d in deliveries if self._was_told(d) and not self.was_sent(d)]
        if channel is None:
            for d in todo:
                error = f"channel {first.contact.channel!r} is not in the routing file any more"
                self._settle([d], Outcome(False, 0, error=error, permanent=True), now)
            return
        uncertain = {}
        for d in todo:
            pending = self.ledger.get(f"pending:{d.key}")
            if pending is not None:
                uncertain[d.key] = [str(k) for k in pending.get("n", [])]
        todo = await reconcile(self, channel, todo, uncertain, now)
        parts: dict[tuple[str, str], list[Delivery]] = {}
        for d in todo:
            thread = "" if d.kind == "raise" else self.thread_of(d)
            before = uncertain.get(d.key, [""])[-1]
            parts.setdefault((thread, before), []).append(d)
        for (thread, _), part in parts.items():

            async def attempt(ds: list[Delivery], thread: str = thread) -> Outcome:
                return await self._attempt(channel, ds, thread, now, uncertain)

            await self.send(channel.name, part, attempt, now)
        for d in deliveries:
            self.acked.pop(d.key, None)
            self.held_by.pop(d.key, None)
            self.flapped.pop(d.key, None)

    async def send(self, channel: str, ds: list[Delivery], attempt: Attempt, now: float) -> None:
        """One message; on a permanent failure of several, find the members it comes from.

        The first member alone, then (if it failed too) the last: if both fail, the
        failure is the channel's (a bad token, a missing channel) and every member
        gets it; otherwise the rest are halved until each failing part is one member.
        ``attempt`` sends one message covering the deliveries it is given.
        """
        outcome = await attempt(ds)
        if outcome.ok or not outcome.permanent or len(ds) == 1:
            self._settle(ds, outcome, now)
            return
        log.warning(
            "a message of %d events to %s failed for good (%s): sending them apart",
            len(ds), channel, outcome.error,
        )  # fmt: skip
        rest = await self._probe_ends(ds, attempt, now)
        if rest is None:
            self._settle(ds[1:-1], outcome, now)
            return
        queue, budget = ([rest] if rest else []), MAX_SPLIT_SENDS
        while queue:
            part = queue.pop(0)
            result = await attempt(part) if budget > 0 else outcome
            budget -= 1
            if result.ok or not result.permanent or len(part) == 1 or budget <= 0:
                self._settle(part, result, now)
            else:
                mid = len(part) // 2
                queue[:0] = [part[:mid], part[mid:]]

    async def _probe_ends(
        self, ds: list[Delivery], attempt: Attempt, now: float
    ) -> list[Delivery] | None:
        """Send the first member alone, and the last if the first failed; the members
        still to send, or None when both ends failed (the failure is not one member's)."""
        first = await attempt(ds[:1])
        self._settle(ds[:1], first, now)
        if first.ok:
            return ds[1:]
        last = await attempt(ds[-1:])
        self._settle(ds[-1:], last, now)
        return ds[1:-1] if last.ok else None

    async def _attempt(
        self,
        channel: Channel,
        ds: list[Delivery],
        thread: str,
        now: float,
        uncertain: dict[str, list[str]],
    ) -> Outcome:
        key = message_key(ds)
        await self.ledger.put_many(
            {f"pending:{d.key}": marker(d, now, n=[*uncertain.get(d.key, []), key]) for d in ds}
        )
        for d in ds:
            uncertain.setdefault(d.key, []).append(key)
        n = notification_for(ds, now, key, thread)
        n.acked_by, n.dashboard_url = self._acked_by(ds[0]), self.dashboard_url
        n.held_by = self.held_by.get(ds[0].key, "")
        n.flapped = sum(self.flapped.get(d.key, 0) for d in ds)
        notes = [(d.event.host, t) for d in ds if (t := self.remediation(d))]
        n.remediation = "; ".join(t if len(ds) == 1 else f"{host}: {t}" for host, t in notes)
        outcome = await deliver(
            lambda: channel.send(n), self.policy, self.limiters[channel.name], self.sleep
        )
        if not outcome.ok:
            log.warning("delivery failed on %s: %s", channel.name, outcome.error)
        return outcome

    def _acked_by(self, d: Delivery) -> str:
        if d.key in self.acked:
            return self.acked[d.key]
        problem = self.book.find(d.event)
        return problem.acked_by if problem else ""

    def _settle(self, ds: list[Delivery], outcome: Outcome, now: float) -> None:
        result = "sent" if outcome.ok else "failed"
        self._done(ds, result, outcome.receipt.ref if outcome.receipt else "", now)
        for d in ds:
            self.record(d, result, outcome.attempts, outcome.error, now)
            self.book.outcome(d, outcome.ok)
            if not outcome.ok and self.unconfirmed:
                self.never_told.add((problem_key(d.event), d.told))
            self.acked.pop(d.key, None)

    def settle_found(self, d: Delivery, ref: str, now: float) -> None:
        """``d`` was in flight at a crash and the channel has it (:mod:`.reconcile`)."""
        self._done([d], "sent", ref, now)
        self.record(d, "deduplicated", 0, "found at the channel", now)
        self.book.outcome(d, True)

    def _done(self, ds: list[Delivery], result: str, ref: str, now: float) -> None:
        for d in ds:
            self.writes[f"sent:{d.key}"] = marker(d, now, r=result, ref=ref)
            self.writes[f"pending:{d.key}"] = None
            if d.kind == "recover":
                self.writes[f"thread:{d.thread_key}"] = None
            elif result == "sent" and ref and (d.kind == "raise" or not self.thread_of(d)):
                # a raise superseded in its window (gamsi.notifier.group): this starts the thread
                self.writes[f"thread:{d.thread_key}"] = {"ref": ref}
