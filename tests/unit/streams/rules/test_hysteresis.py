"""Recovery thresholds, hysteresis and the clear duration: no flapping."""

from __future__ import annotations

from tests.unit.streams.timeline import Feeder, make_engine

CPU = {"name": "cpu", "item": "cpu.util", "levels": {"urgent": ">= 90"}}


def oscillate(n: int, a: float, b: float) -> list[tuple[float, float]]:
    return [(10.0 * i, a if i % 2 == 0 else b) for i in range(n)]


def test_without_hysteresis_a_value_around_the_threshold_flaps(feed):
    assert len(feed(CPU, oscillate(10, 91, 88))) == 10


def test_hysteresis_holds_the_level_until_the_value_falls_below_threshold_minus_it(feed):
    watch = {**CPU, "hysteresis": 5}
    points = [*oscillate(10, 91, 88), (100, 85.5), (110, 84.9)]
    assert feed(watch, points) == [(0.0, "raise", 4), (110.0, "recover", 0)]


def test_explicit_recovery_threshold(feed):
    watch = {**CPU, "levels": {"urgent": {"op": ">=", "value": 90, "recover": 70}}}
    points = [(0, 95), (10, 75), (20, 71), (30, 69.9)]
    assert feed(watch, points) == [(0.0, "raise", 4), (30.0, "recover", 0)]


def test_clear_duration_restarts_when_the_value_returns(feed):
    watch = {**CPU, "clear": "30s"}
    points = [(0, 95), (10, 80), (20, 80), (30, 95), (40, 80), (50, 80), (60, 80), (70, 80)]
    assert feed(watch, points) == [(0.0, "raise", 4), (70.0, "recover", 0)]


def test_downward_hysteresis_recovers_above_threshold_plus_it(feed):
    watch = {"name": "free", "item": "disk.free_pct", "levels": {"danger": "< 10"}, "hysteresis": 5}
    points = [(0, 9), (10, 12), (20, 14.9), (30, 15)]
    assert feed(watch, points) == [(0.0, "raise", 3), (30.0, "recover", 0)]


def test_recovery_event_names_the_recovery_threshold_crossed():
    f = Feeder(make_engine({**CPU, "hysteresis": 5}))
    f.values([(0, 95), (10, 80)], "cpu.util")
    recovery = f.events[-1]
    assert (recovery.transition, recovery.threshold, recovery.value) == ("recover", 85.0, 80.0)
    assert "< 85" in recovery.message
    assert recovery.since == 0.0
