"""Bounds per sender (impossible times, huge batches, unbounded state) and a worker that a
record cannot stop: each refusal is a dead letter with its reason, never a crash."""

from __future__ import annotations

import time
from typing import Any

import pytest

from gamsi.deadletter import screen
from gamsi.schemas.codec import encode
from gamsi.schemas.records import MetricBatch, Sample
from gamsi.streams import state as host_state
from gamsi.streams.limits import Limits, check_batch
from gamsi.streams.worker import COUNTERS, BatchRefused, judge_batch, run_ticks
from tests.unit.streams.timeline import make_engine

NOW = float(int(time.time()))  # the worker's clock: judge_batch reads it
CPU = {"name": "cpu", "item": "cpu.util", "levels": {"urgent": ">= 90"}}
AVG = {**CPU, "name": "cpu-avg", "window": "60s", "aggregate": "avg"}


def raw(host: str, ts: float, seq: int, samples: list[Sample]) -> bytes:
    return encode(MetricBatch(host, ts, samples, seq, 10.0, "linux"))


class Message:
    topic, partition, offset, key = "gamsi.metrics", 0, 7, b"h"

    def __init__(self, value: bytes) -> None:
        self.value = value


def test_a_batch_from_the_far_future_is_refused_with_its_reason():
    batch = MetricBatch("h", 1e300, [Sample("cpu.util", 99.0)], 1, 10.0, "linux")
    reason = check_batch(batch, NOW, Limits())
    assert reason is not None
    assert "ahead of this worker's clock" in reason
    assert "max_future = 300 s" in reason
    assert check_batch(MetricBatch("h", NOW + 299, [], 1, 10.0), NOW, Limits()) is None
    assert "not a finite time" in check_batch(MetricBatch("h", float("inf"), [], 1), NOW, Limits())


@pytest.mark.parametrize("ts", [1e300, 1e15, -1e300])
def test_the_engine_itself_never_raises_on_an_impossible_time(ts):
    engine = make_engine(AVG, CPU)
    state, _ = engine.process(None, MetricBatch("h", NOW, [Sample("cpu.util", 10.0)], 1, 10.0))
    state, _ = engine.process(state, MetricBatch("h", ts, [Sample("cpu.util", 99.0)], 2, 10.0))
    state, _ = engine.process(state, MetricBatch("h", ts + 10, [Sample("cpu.util", 9.0)], 3, 10.0))
    assert set(state.series) == {"cpu-avg\t", "cpu\t"}  # IndexError in the window code before


def test_one_forged_batch_cannot_make_the_real_ones_late():
    engine = make_engine(CPU)
    table: dict[str, Any] = {}
    judge_batch(engine, table, raw("h", NOW, 1, [Sample("cpu.util", 10.0)]), 0, now=NOW)
    for ts in (1e15, NOW + 1e6):  # past 2286 (the codec's range), a month ahead (ours)
        forged = raw("h", ts, 10**15, [Sample("cpu.util", 10.0)])
        judged, letter = screen(
            Message(forged), lambda v: judge_batch(engine, table, v, 0, now=NOW), "w"
        )
        assert judged is None
        assert letter is not None
    # within the time bound, an impossible seq is refused by the host's ordering
    forged = raw("h", NOW + 200, 10**15, [Sample("cpu.util", 10.0)])
    with pytest.raises(BatchRefused, match="ticks ahead"):
        judge_batch(engine, table, forged, 0, now=NOW)
    real = raw("h", NOW + 10, 2, [Sample("cpu.util", 95.0)])
    _, events = judge_batch(engine, table, real, 0, now=NOW)
    assert [(e.transition, e.ts) for e in events] == [("raise", NOW + 10)]


def test_a_batch_with_18000_instances_is_a_dead_letter_and_the_next_host_is_judged():
    engine = make_engine({**CPU, "item": "disk.used_pct", "name": "disk"})
    table: dict[str, Any] = {}
    before = COUNTERS["batches_refused"]
    huge = raw("h", NOW, 1, [Sample("disk.used_pct", 99.0, f"/m{i}") for i in range(18_000)])
    judged, letter = screen(Message(huge), lambda v: judge_batch(engine, table, v, 0, now=NOW), "w")
    assert judged is None
    assert "more than 2000 instances" in letter.reason
    assert COUNTERS["batches_refused"] == before + 1
    assert "h" not in table
    good = raw("g", NOW, 1, [Sample("disk.used_pct", 99.0, "/")])
    _, events = judge_batch(engine, table, good, 0, now=NOW)
    assert [e.host for e in events] == ["g"]


def test_state_beyond_its_byte_bound_is_refused_and_the_host_judged_afresh():
    engine = make_engine({**CPU, "item": "disk.used_pct", "name": "disk"})
    table: dict[str, Any] = {}
    limits = Limits(max_state_bytes=2000)
    batch = raw("h", NOW, 1, [Sample("disk.used_pct", 9.0, f"/m{i}") for i in range(100)])
    with pytest.raises(BatchRefused, match="max_state_bytes"):
        judge_batch(engine, table, batch, 0, limits=limits, now=NOW)
    assert table["h"]["s"].series == {}


class Broken:
    """An engine with a bug that some host's state triggers."""

    def process(self, state: Any, batch: MetricBatch) -> Any:
        raise KeyError(2)

    def tick(self, state: Any, host: str, now: float, watching: bool = True) -> Any:
        if host == "bad":
            raise KeyError(2)
        return state, []


def test_an_engine_failure_becomes_a_dead_letter_and_resets_only_that_host():
    table: dict[str, Any] = {"h": {"p": 0, "s": "whatever was there"}}
    before = COUNTERS["host_resets"]
    judged, letter = screen(
        Message(raw("h", NOW, 1, [])), lambda v: judge_batch(Broken(), table, v, 0, now=NOW), "w"
    )
    assert judged is None
    assert letter.reason.startswith("KeyError")
    assert isinstance(table["h"]["s"], host_state.HostState)
    assert COUNTERS["host_resets"] == before + 1


def test_a_tick_failing_for_one_host_goes_on_for_the_others():
    good = host_state.HostState()
    table: dict[str, Any] = {"bad": {"p": 0, "s": good}, "ok": {"p": 0, "s": good}}
    reported = []
    run_ticks(Broken(), table, 0, NOW, True, lambda host, exc: reported.append(host))
    assert reported == ["bad"]
    assert table["bad"]["s"] is not good
    assert table["ok"]["s"] is good


def test_a_forged_new_run_ahead_of_time_leaves_the_real_run_followable():
    engine = make_engine(CPU)
    state, _ = engine.process(None, _run("a", 1, NOW, 10.0))
    state, _ = engine.process(state, _run("forged", 1, NOW + 299, 10.0))  # within max_future
    state, events = engine.process(state, _run("a", 2, NOW + 10, 95.0))
    assert [(e.transition, e.ts) for e in events] == [("raise", NOW + 10)]
    state, events = engine.process(state, _run("a", 3, NOW + 20, 10.0))
    assert [(e.transition, e.ts) for e in events] == [("recover", NOW + 20)]
    assert state.late == 0


def _run(run: str, seq: int, ts: float, cpu: float) -> MetricBatch:
    batch = MetricBatch("h", ts, [Sample("cpu.util", cpu)], seq, 10.0, "linux")
    batch.run = run
    return batch


def test_the_disk_full_history_stays_small_at_a_one_second_interval():
    from gamsi.streams.rules.registry import build_processors

    (proc,) = build_processors({"disk_full": {}})  # lookback 6 h
    state, hours = None, None
    for i in range(7 * 3600):  # 7 h of 1 s samples, filling 1 % per hour from 90 %
        state, hours = proc.derive(state, float(i), 90.0 + i / 3600.0)
    times, _ = state
    assert len(times) <= 250  # about 240 instead of 21,600 points on the changelog per mount
    assert times[-1] == 7 * 3600 - 1
    assert abs(hours - 3.0) < 0.01  # 97 % full, +1 %/h: the thinned fit still says 3 h
