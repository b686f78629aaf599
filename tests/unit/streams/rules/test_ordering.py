"""Duplicate, late and out-of-order batches; a collector clock that steps back or is skewed."""

from __future__ import annotations

import pytest

from gamsi.schemas.records import Sample
from tests.unit.streams.timeline import Feeder, every, make_engine

CPU = {"name": "cpu", "item": "cpu.util", "levels": {"urgent": ">= 90"}, "duration": "20s"}


def cpu(v: float) -> list[Sample]:
    return [Sample("cpu.util", v)]


def test_a_redelivered_batch_changes_nothing():
    f = Feeder(make_engine(CPU))
    for t in (0.0, 10.0, 20.0):
        f.push(t, cpu(95), seq=int(t))
    assert len(f.events) == 1
    before = f.named
    assert f.push(20.0, cpu(95), seq=20) == []
    assert f.push(10.0, cpu(10), seq=10) == []  # an older one: already applied
    assert {k: v.dump() for k, v in f.named.series.items()} == {
        k: v.dump() for k, v in before.series.items()
    }
    assert f.named.late == 2


def test_an_out_of_order_batch_is_dropped_not_applied_backwards():
    f = Feeder(make_engine({**CPU, "duration": 0}))
    f.push(30.0, cpu(95), seq=3)
    assert f.push(20.0, cpu(10), seq=2) == []  # late: must not recover the problem
    assert [(e.ts, e.transition) for e in f.events] == [(30.0, "raise")]
    assert f.push(40.0, cpu(10), seq=4)[0].transition == "recover"


def test_a_late_sample_does_not_count_towards_a_duration():
    f = Feeder(make_engine(CPU))
    f.push(100.0, cpu(95), seq=10)
    f.push(90.0, cpu(95), seq=9)  # late: would otherwise stretch the run back to 90
    f.push(110.0, cpu(95), seq=11)
    assert f.events == []
    f.push(120.0, cpu(95), seq=12)
    assert [e.ts for e in f.events] == [120.0]


def test_a_clock_step_back_with_a_newer_seq_is_accepted_and_restarts_runs():
    f = Feeder(make_engine(CPU))
    f.push(1000.0, cpu(95), seq=1)
    f.push(1010.0, cpu(95), seq=2)
    f.push(500.0, cpu(95), seq=3)  # NTP stepped the collector's clock back 510 s
    f.push(510.0, cpu(95), seq=4)
    assert f.events == []
    assert f.named.steps == 1
    f.push(520.0, cpu(95), seq=5)
    assert [(e.ts, e.transition, e.since) for e in f.events] == [(520.0, "raise", 500.0)]


@pytest.mark.parametrize("skew", [-7200.0, 3600.0])
def test_value_rules_use_event_time_so_skew_only_shifts_timestamps(skew):
    def run(offset: float) -> list[tuple[float, str]]:
        f = Feeder(make_engine({**CPU, "clear": "20s"}))
        points = every(0, 50, 10, 95) + every(50, 100, 10, 10)
        f.values([(1_000_000 + offset + t, v) for t, v in points], "cpu.util")
        return [(e.ts - offset, e.transition) for e in f.events]

    assert run(skew) == run(0.0) == [(1_000_020.0, "raise"), (1_000_070.0, "recover")]


def test_the_same_input_gives_the_same_event_ids():
    def ids() -> list[str]:
        f = Feeder(make_engine(CPU))
        f.values([*every(0, 40, 10, 95), (40, 10)], "cpu.util")
        return [e.event_id for e in f.events]

    first = ids()
    assert len(first) == 2
    assert len(set(first)) == 2
    assert ids() == first
