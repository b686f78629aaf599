"""No data: raised and cleared on processor time, immune to collector clock skew."""

from __future__ import annotations

import orjson
import pytest

from gamsi.schemas.records import Sample
from tests.unit.streams.timeline import Feeder, make_engine

HEARTBEAT = {
    "name": "agent",
    "item": "agent.heartbeat",
    "nodata": {"after": "60s", "severity": "danger"},
}


def test_silent_agent_raises_after_the_timeout_and_recovers_when_data_returns():
    f = Feeder(make_engine(HEARTBEAT))
    f.push(1000.0, [])
    assert f.tick(5000.0) == []  # first tick: data arrived (processor time 5000)
    assert f.ticks(5005.0, 5055.0) == []
    (raised,) = f.tick(5060.0)
    assert (raised.transition, raised.severity, raised.ts, raised.since) == (
        "raise",
        3,
        5060.0,
        5060.0,
    )
    assert raised.watch == "agent/nodata"
    assert "no data" in raised.message
    assert f.ticks(5065.0, 5100.0) == []  # raised once, not on every tick
    f.push(1010.0, [])
    (recovered,) = f.tick(5105.0)
    assert (recovered.transition, recovered.severity, recovered.previous) == ("recover", 0, 3)


def test_steady_data_never_raises():
    f = Feeder(make_engine(HEARTBEAT))
    for i in range(30):
        f.push(1000.0 + 10 * i, [])
        f.tick(5000.0 + 10 * i)
    assert f.events == []


def _silent_after_three_batches(skew: float) -> list[tuple[str, float, str]]:
    f = Feeder(make_engine(HEARTBEAT))
    for i in range(3):
        f.push(5000.0 + skew + 10 * i, [])
        f.ticks(5000.0 + 10 * i, 5005.0 + 10 * i)
    f.ticks(5030.0, 5080.0)
    return [(e.transition, e.ts, e.event_id) for e in f.events]


@pytest.mark.parametrize("skew", [-86400.0, -3600.0, 3600.0, 86400.0])
def test_collector_clock_ahead_or_behind_changes_nothing(skew):
    reference = _silent_after_three_batches(0.0)
    assert [r[:2] for r in reference] == [("raise", 5080.0)]
    assert _silent_after_three_batches(skew) == reference


def test_a_tick_replayed_from_saved_state_gives_the_same_event():
    f = Feeder(make_engine(HEARTBEAT))
    f.push(1000.0, [])
    f.ticks(5000.0, 5055.0)
    saved = orjson.dumps(f.state)  # the engine updates the state it is given in place
    (first,) = f.engine.tick(orjson.loads(saved), "web-1", 5060.0)[1]
    (again,) = make_engine(HEARTBEAT).tick(orjson.loads(saved), "web-1", 5065.0)[1]
    assert again.event_id == first.event_id
    assert again.ts == first.ts


CPU_OR_SILENT = {
    "name": "cpu", "item": "cpu.util", "levels": {"urgent": ">= 90"},
    "nodata": {"after": "30s", "severity": "caution"},
}  # fmt: skip


def test_one_item_going_silent_while_the_batches_continue():
    f = Feeder(make_engine(CPU_OR_SILENT))
    f.push(100.0, [Sample("cpu.util", 10.0)])
    f.tick(100.0)
    for i in range(1, 5):
        f.push(100.0 + 10 * i, [Sample("memory.used_pct", 10.0)])  # cpu.util missing
        f.tick(100.0 + 10 * i)
    assert [(e.watch, e.item, e.transition, e.severity) for e in f.events] == [
        ("cpu/nodata", "cpu.util", "raise", 2)
    ]
    assert f.events[0].ts == 130.0


def test_nodata_and_value_conditions_are_separate_series():
    f = Feeder(make_engine(CPU_OR_SILENT))
    f.push(100.0, [Sample("cpu.util", 95.0)])
    f.ticks(100.0, 130.0)
    f.push(140.0, [Sample("cpu.util", 10.0)])
    f.ticks(135.0, 140.0)
    assert [(e.watch, e.transition) for e in f.events] == [
        ("cpu", "raise"),
        ("cpu/nodata", "raise"),
        ("cpu", "recover"),
        ("cpu/nodata", "recover"),
    ]


def test_tick_without_state_is_harmless():
    engine = make_engine(HEARTBEAT)
    state, events = engine.tick(None, "never-seen", 1000.0)
    assert events == []
    assert state.series == {}
