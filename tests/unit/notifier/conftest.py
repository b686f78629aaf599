"""In-memory helpers for the notifier's pure pipeline: a recording channel, events, a clock."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
import yaml

from gamsi.notifier.ack import ack_record
from gamsi.notifier.channels import Receipt, RetryableError
from gamsi.notifier.deliveries import MemorySink
from gamsi.notifier.ledger import MemoryLedger
from gamsi.notifier.message import Notification
from gamsi.notifier.pipeline import Pipeline, PipelineOptions
from gamsi.notifier.retry import RateLimiter, RetryPolicy
from gamsi.notifier.routing import parse_routing
from gamsi.schemas.records import SeverityEvent


class RecordingChannel:
    """Keeps what it is asked to send; can fail the next N sends (retryable)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.sent: list[Notification] = []
        self.failures: list[Exception] = []
        self._ts = itertools.count(1)

    async def send(self, notification: Notification) -> Receipt:
        if self.failures:
            raise self.failures.pop(0)
        self.sent.append(notification)
        return Receipt(ref=notification.thread_ref or f"ts-{next(self._ts)}")

    async def close(self) -> None:
        return None


class Clock:
    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.now = start
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def event(
    host: str,
    transition: str = "raise",
    severity: int = 4,
    *,
    eid: str | None = None,
    tags: list[str] | None = None,
    item: str = "cpu.util",
    ts: float = 1_800_000_000.0,
) -> SeverityEvent:
    recovering = transition == "recover"
    return SeverityEvent(
        event_id=eid or f"{host}:{item}:{transition}:{severity}",
        host=host,
        item=item,
        instance="",
        watch="cpu-high",
        severity=0 if recovering else severity,
        previous=severity if recovering else 0,
        transition=transition,
        value=40.0 if recovering else 97.0,
        threshold=80.0 if recovering else 90.0,
        ts=ts,
        since=0.0 if recovering else ts,
        tags=tags or [],
    )


class Harness:
    def __init__(self, routing: str, storm_window: float = 0.0) -> None:
        self.config = parse_routing(yaml.safe_load(routing), "routing.yaml")
        self.channels = {name: RecordingChannel(name) for name in self.config.channels}
        self.clock = Clock()
        self.ledger = MemoryLedger()
        self.sink = MemorySink()
        self.pipeline = self.build(storm_window)

    def build(self, storm_window: float = 0.0) -> Pipeline:
        limiters = {n: RateLimiter(clock=self.clock) for n in self.channels}
        options = PipelineOptions(storm_window=storm_window, policy=RetryPolicy(attempts=3))
        return Pipeline(
            self.config, self.channels, limiters, self.ledger, self.sink, options, self.clock.sleep
        )

    def ack(self, event_id: str, by: str, undo: bool = False) -> bool:
        """Acknowledge (or withdraw) the open occurrence ``event_id`` belongs to, as
        `gamsi ack` would write it."""
        problem = self.pipeline.book.open_with(event_id)
        record = ack_record(
            event_id,
            by,
            self.clock.now,
            problem=problem.key if problem else "gone",
            opened=problem.opened_by if problem else "gone",
            undo=undo,
        )
        return self.pipeline.acknowledge(record)

    def sent(self, channel: str) -> list[Notification]:
        return self.channels[channel].sent

    def results(self) -> list[tuple[str, str, str]]:
        return [(r["event_id"], r["channel"], r["result"]) for r in self.sink.records]

    async def push(self, *events: SeverityEvent, flush: bool = True) -> list[Any]:
        for i, e in enumerate(events):
            self.pipeline.accept(e, ("p", i), self.clock.now)
        return await self.pipeline.flush(self.clock.now) if flush else []

    async def advance(self, seconds: float) -> list[Any]:
        self.clock.now += seconds
        self.pipeline.tick(self.clock.now)
        return await self.pipeline.flush(self.clock.now)


SIMPLE = """
channels: {slack: {type: slack, token_env: X}, sms: {type: sms, preset: twilio}}
recipients:
  ops: {contacts: [{channel: slack, to: "#ops"}]}
routes:
  - {name: all, recipients: [ops]}
"""


@pytest.fixture
def harness() -> Harness:
    return Harness(SIMPLE)


__all__ = ["SIMPLE", "Clock", "Harness", "RecordingChannel", "RetryableError", "event"]
