"""Timeline helpers for the pure engine: push samples at event times, read transitions.

Written in the spirit of Alertmanager's acceptance tests: ``feed(watch, [(t, v), ...])``
returns ``[(t, transition, severity), ...]``. The state goes through its changelog form
and an orjson round trip after every batch and tick, as after a restore from the Faust
changelog table, so every timeline also proves the state survives one at any point.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any

import orjson

from gamsi.schemas.records import MetricBatch, Sample, SeverityEvent
from gamsi.streams import state as host_state
from gamsi.streams.engine import Engine
from gamsi.streams.policy.parse import policy_from_plain

Timeline = list[tuple[float, str, int]]


def make_engine(*watches: dict[str, Any], processors: dict[str, Any] | None = None) -> Engine:
    policy = policy_from_plain(
        {"watches": list(watches), "processors": processors or {}}, "test-policy"
    )
    return Engine(policy)


class Feeder:
    """One host fed batch by batch; remembers every event."""

    def __init__(self, engine: Engine, host: str = "web-1", interval: float = 10.0) -> None:
        self.engine = engine
        self.host = host
        self.interval = interval
        self.state: dict[str, Any] | None = None
        self.events: list[SeverityEvent] = []
        self.seq = 0

    def push(
        self,
        t: float,
        samples: Iterable[Sample],
        *,
        seq: int | None = None,
        tags: list[str] | None = None,
    ) -> list[SeverityEvent]:
        self.seq += 1
        batch = MetricBatch(
            host=self.host, ts=t, samples=list(samples), seq=self.seq if seq is None else seq,
            interval=self.interval, os="linux", tags=tags or ["prod"],
        )  # fmt: skip
        state, events = self.engine.process(self.state, batch)
        self.state = orjson.loads(orjson.dumps(state, default=host_state.default))
        self.events += events
        return events

    def tick(self, now: float) -> list[SeverityEvent]:
        state, events = self.engine.tick(self.state, self.host, now)
        self.state = orjson.loads(orjson.dumps(state, default=host_state.default))
        self.events += events
        return events

    def ticks(self, start: float, stop: float, step: float = 5.0) -> list[SeverityEvent]:
        """Ticks at start, start+step, ... up to and including stop (the leader's cadence)."""
        out: list[SeverityEvent] = []
        now = start
        while now <= stop:
            out += self.tick(now)
            now += step
        return out

    @property
    def named(self) -> host_state.HostState:
        """The state as the engine names it (read back from its changelog form)."""
        return host_state.load(self.state)

    def values(
        self, points: Iterable[tuple[float, float]], item: str, instance: str = ""
    ) -> Timeline:
        out: Timeline = []
        for t, v in points:
            out += [
                (e.ts, e.transition, e.severity) for e in self.push(t, [Sample(item, v, instance)])
            ]
        return out


def every(start: float, stop: float, step: float, value: float) -> list[tuple[float, float]]:
    """Samples of one value at start, start+step, ... < stop."""
    out = []
    t = start
    while t < stop:
        out.append((t, value))
        t += step
    return out


def fetched(ends: dict[int, int]) -> Callable[[int], tuple[int, float] | None]:
    """``highwater`` of :class:`gamsi.streams.worker.Watching` for a consumer that fetches
    every partition all the time: each end offset in ``ends`` is current."""
    return lambda p: None if ends.get(p) is None else (ends[p], math.inf)
