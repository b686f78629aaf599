"""The walking skeleton's watch: one item, one threshold, one recovery threshold.

It has the same shape as the full rule engine (``process`` and ``tick`` over a
plain-dict host state) so the Faust wiring does not change when the engine does.
Pure: no Kafka, no wall clock; event time is the batch's timestamp.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from gamsi.schemas.records import MetricBatch, Severity, SeverityEvent


def event_id(*parts: object) -> str:
    """Deterministic id: the same transition computed twice (a replay) has the same id."""
    return hashlib.blake2b("|".join(map(str, parts)).encode(), digest_size=12).hexdigest()


@dataclass(frozen=True)
class ThresholdWatch:
    name: str
    item: str
    threshold: float
    recovery: float
    severity: Severity = Severity.URGENT


class ThresholdEngine:
    """Raise when a sample is at or above ``threshold``; recover below ``recovery``."""

    def __init__(self, watches: list[ThresholdWatch]) -> None:
        self.by_item = {w.item: w for w in watches}

    def process(
        self, state: dict[str, Any] | None, batch: MetricBatch
    ) -> tuple[dict[str, Any], list[SeverityEvent]]:
        active: dict[str, Any] = dict((state or {}).get("active", {}))
        events: list[SeverityEvent] = []
        for sample in batch.samples:
            watch = self.by_item.get(sample.item)
            if watch is None:
                continue
            key = f"{watch.name}|{sample.instance}"
            current = active.get(key)
            if current is None and sample.value >= watch.threshold:
                active[key] = {"severity": int(watch.severity), "since": batch.ts}
                events.append(
                    self._event(
                        batch,
                        watch,
                        sample.instance,
                        sample.value,
                        "raise",
                        watch.severity,
                        Severity.NORMAL,
                        watch.threshold,
                        batch.ts,
                    )
                )
            elif current is not None and sample.value < watch.recovery:
                del active[key]
                events.append(
                    self._event(
                        batch,
                        watch,
                        sample.instance,
                        sample.value,
                        "recover",
                        Severity.NORMAL,
                        Severity(current["severity"]),
                        watch.recovery,
                        0.0,
                    )
                )
        return {"active": active, "last_ts": batch.ts}, events

    def tick(
        self, state: dict[str, Any] | None, host: str, now: float
    ) -> tuple[dict[str, Any], list[SeverityEvent]]:
        return dict(state or {}), []

    @staticmethod
    def _event(
        batch: MetricBatch,
        watch: ThresholdWatch,
        instance: str,
        value: float,
        transition: str,
        severity: Severity,
        previous: Severity,
        threshold: float,
        since: float,
    ) -> SeverityEvent:
        where = f"{watch.item}[{instance}]" if instance else watch.item
        verb = "recovered" if transition == "recover" else f"is {severity.name}"
        return SeverityEvent(
            event_id=event_id(batch.host, watch.name, instance, transition, batch.ts, severity),
            host=batch.host,
            item=watch.item,
            instance=instance,
            watch=watch.name,
            severity=int(severity),
            previous=int(previous),
            transition=transition,
            value=value,
            threshold=threshold,
            ts=batch.ts,
            since=since,
            message=f"{batch.host} {where} {verb}: {value:g} (threshold {threshold:g})",
            tags=list(batch.tags),
        )
