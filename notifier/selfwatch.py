"""A pipeline problem is a problem too: the notifier tells people when Gamsi itself fails.

Three conditions, checked every ``[notifier] selfwatch_interval`` seconds:

* **Kafka unreachable**: this notifier's :class:`gamsi.health.KafkaWatch` has had no
  answer for more than ``selfwatch_kafka_after`` seconds;
* **a service down**: the consumer group of the stream workers, the history writer or
  the remediator has committed offsets (it ran) but no member, for more than
  ``selfwatch_after`` seconds. The broker's own group membership says so
  (DescribeGroups), across processes and hosts, with nothing asked of the service;
* **a consumer group lagging**: the records on its topics past its committed offsets
  exceed ``selfwatch_lag`` for more than ``selfwatch_after`` seconds (Burrow's and
  kafka-consumer-groups' definition of lag).

Each raises one message, and its end one "recovered" message to the same contacts,
in the same thread. They are *pipeline problems*: events of host ``gamsi``, watch
``gamsi.pipeline`` (item ``kafka.unreachable_s``, ``service.members`` or
``consumer.lag``; the instance names the broker or the group), routed by the routing
file like any event, to ``defaults.fallback`` (or the log) when no route takes them,
and muted by maintenance windows and silences like any event. They are sent straight
through the channels, never through Kafka: no ledger, no delivery log — the broker
may be what is down. So a broker outage is one message and one recovery, not one
"agent silent" page per host afterwards (the stream workers do not judge silence
across a pipeline gap; docs/rules.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from gamsi.health import KafkaWatch
from gamsi.metrics import SelfReport, watch_consumer
from gamsi.notifier.deliveries import Delivery, Told
from gamsi.notifier.outbox import notification_for
from gamsi.notifier.retry import deliver
from gamsi.notifier.route import fallback_deliveries, route_event, to_told
from gamsi.notifier.selfwatch_groups import Finding, GroupCheck
from gamsi.schemas.records import Severity, SeverityEvent

log = logging.getLogger(__name__)

HOST = "gamsi"
WATCH = "gamsi.pipeline"


@dataclass
class Open:
    """A condition that is bad: since when (wall clock), and who was told of it."""

    since: float
    finding: Finding
    told: dict[Told, str] = field(default_factory=dict)
    """Who was told → the channel's reference of the raise (the recovery's thread)."""
    raised: SeverityEvent | None = None


class SelfWatch:
    """Judges the findings of each check and tells the operators through the pipeline's
    channels. ``pipeline`` is the notifier's :class:`~gamsi.notifier.pipeline.Pipeline`
    (its routing, silences, channels, limiters and retry policy are used as they are
    now, so a reload applies); ``kafka`` this notifier's Kafka watch."""

    def __init__(self, settings: Any, kafka: KafkaWatch, pipeline: Any) -> None:
        self.settings = settings
        self.kafka = kafka
        self.pipeline = pipeline
        self.open: dict[str, Open] = {}
        self.counts: Counter[tuple[str, str]] = Counter()
        """Messages sent by (channel, result): the notifier's /metrics."""
        self._groups = GroupCheck(settings)

    async def run(self, stop: asyncio.Event) -> None:
        """Check every ``selfwatch_interval`` seconds until ``stop`` is set."""
        every = self.settings.notifier.selfwatch_interval
        try:
            while not stop.is_set():
                try:
                    await self.check(time.time())
                except Exception:  # the watcher must outlive whatever it watches
                    log.exception("self-watch check failed")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), every)
        finally:
            await self._groups.close()

    async def check(self, now: float) -> None:
        """One round: gather the findings, then raise and recover."""
        # Groups are the same for every notifier of the group: only the owner of events
        # partition 0 tells of them, so two notifiers do not page twice.
        leader = self.pipeline.ownership.owns(HOST, partition=0)
        groups = await self._groups.findings() if self.kafka.answered and leader else None
        if groups is None:  # what cannot be asked now keeps its state: no false recovery
            groups = [o.finding for k, o in self.open.items() if k != "kafka"]
        await self.judge(self.kafka_findings() + groups, now)

    def kafka_findings(self) -> list[Finding]:
        n = self.settings.notifier
        away = self.kafka.away_for()
        if self.kafka.answered or not self.kafka.ever_answered:
            return []
        text = f"the notifier cannot reach Kafka at {self.kafka.bootstrap} for {away:.0f} s"
        return [
            Finding(
                "kafka", "kafka.unreachable_s", self.kafka.bootstrap, round(away),
                n.selfwatch_kafka_after, Severity.URGENT, text, n.selfwatch_kafka_after,
            )
        ]  # fmt: skip

    async def judge(self, findings: list[Finding], now: float) -> None:
        """Raise each finding bad for longer than its bound; recover each open one gone."""
        seen = {f.key for f in findings}
        for f in findings:
            state = self.open.setdefault(f.key, Open(since=now, finding=f))
            if f.key == "kafka":  # the watch knows since when better than this loop
                state.since = min(state.since, now - self.kafka.away_for())
            state.finding = f
            if state.raised is None and now - state.since >= f.after:
                await self._raise(state, now)
        for key in [k for k in self.open if k not in seen]:
            state = self.open.pop(key)
            if state.raised is not None:
                await self._recover(state, now)

    async def _raise(self, state: Open, now: float) -> None:
        f = state.finding
        event = self._event(f, "raise", f.severity, Severity.NORMAL, now, state.since)
        state.raised = event
        log.warning("pipeline problem: %s", f.text)
        config = self.pipeline.config
        deliveries = route_event(config, event, now) or fallback_deliveries(config, event)
        for d in deliveries:
            ref = await self._send(d, now, "")
            if ref is not None:
                state.told[d.told] = ref

    async def _recover(self, state: Open, now: float) -> None:
        assert state.raised is not None
        f = state.finding
        text = f"healthy again after {now - state.since:.0f} s: {f.text}"
        event = self._event(f, "recover", Severity.NORMAL, f.severity, now, 0.0, text)
        log.info("pipeline problem ended: %s", text)
        for d in to_told(self.pipeline.config, event, list(state.told)):
            await self._send(d, now, state.told.get(d.told, ""))

    def _event(
        self,
        f: Finding,
        transition: str,
        severity: Severity,
        previous: Severity,
        now: float,
        since: float,
        text: str = "",
    ) -> SeverityEvent:
        return SeverityEvent(
            event_id=f"{WATCH}:{f.key}:{int(since or now)}:{transition}",
            host=HOST, item=f.item, instance=f.instance, watch=WATCH,
            severity=int(severity), previous=int(previous), transition=transition,
            value=float(f.value), threshold=float(f.threshold), ts=now, since=since,
            emitted_at=now, message=text or f.text, tags=[HOST],
        )  # fmt: skip

    async def _send(self, d: Delivery, now: float, thread: str) -> str | None:
        """Send one message now (retried by the pipeline's policy); the receipt's
        reference, or None when it failed or a maintenance window or silence mutes it."""
        mute = self.pipeline.muted(d.event, now)
        channel = self.pipeline.outbox.channels.get(d.contact.channel)
        if mute is not None or channel is None:
            why = mute.text if mute is not None else "channel not in the routing file"
            log.info("pipeline problem not sent to %s: %s", d.contact.channel, why)
            self.counts[(d.contact.channel, "suppressed")] += 1
            return None
        n = notification_for([d], now, d.key, thread)
        outbox = self.pipeline.outbox
        outcome = await deliver(
            lambda: channel.send(n), outbox.policy, outbox.limiters[channel.name], outbox.sleep
        )
        self.counts[(d.contact.channel, "sent" if outcome.ok else "failed")] += 1
        if not outcome.ok:
            log.error("pipeline problem not delivered on %s: %s", channel.name, outcome.error)
            return None
        return outcome.receipt.ref if outcome.receipt else ""


def start_selfwatch(
    settings: Any,
    report: SelfReport,
    pipeline: Any,
    sink: Any,
    consumer: Any,
    counts: Counter[str],
    stop: asyncio.Event,
) -> asyncio.Task[None] | None:
    """The notifier's figures on ``report`` (events consumed from ``counts["events"]``,
    deliveries by outcome from ``sink.counts``, the lag of ``consumer``) and its
    :class:`SelfWatch` as a task (None with ``[notifier] selfwatch_interval = 0``)."""
    f = report.figures
    f.counter("gamsi_notifier_events_total", "Severity events consumed.", lambda: counts["events"])
    f.counter(
        "gamsi_notifier_deliveries_total",
        "Deliveries by channel and result (sent, failed, suppressed, deduplicated, no_contact).",
        lambda: dict(sink.counts),
        ("channel", "result"),
    )
    watch_consumer(f, report.health, consumer, settings.notifier.group_id)
    if not settings.notifier.selfwatch_interval:
        return None
    watch = SelfWatch(settings, report.kafka, pipeline)
    f.counter(
        "gamsi_notifier_pipeline_messages_total",
        "Messages about pipeline problems, sent straight to the channels, by channel and result.",
        lambda: dict(watch.counts),
        ("channel", "result"),
    )
    f.gauge(
        "gamsi_notifier_pipeline_problems",
        "Pipeline problems told and not recovered yet (Kafka away, a service down, lag).",
        lambda: sum(1 for o in watch.open.values() if o.raised is not None),
    )
    return asyncio.create_task(watch.run(stop), name="gamsi-selfwatch")


__all__ = ["HOST", "WATCH", "SelfWatch", "start_selfwatch"]
