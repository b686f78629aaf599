"""Counting inside a sliding window, and aggregates over a window."""

from __future__ import annotations

from tests.unit.streams.timeline import every

COUNT = {
    "name": "errs", "item": "net.rx_errors_per_s", "levels": {"danger": "> 80"},
    "window": "60s", "count": 3,
}  # fmt: skip


def alternate(start: float, stop: float, high: float, low: float) -> list[tuple[float, float]]:
    return [(t, high if i % 2 == 0 else low) for i, (t, _) in enumerate(every(start, stop, 10, 0))]


def test_count_in_window_raises_on_non_consecutive_breaches(feed):
    # 90, 50, 90, 50, 90 at t = 0..40: the third breach inside (t-60, t] is at 40
    assert feed(COUNT, alternate(0, 50, 90, 50)) == [(40.0, "raise", 3)]


def test_a_flapping_value_stays_raised_and_recovers_when_breaches_age_out(feed):
    points = alternate(0, 70, 90, 50) + every(70, 120, 10, 50)
    # breaches at 0, 20, 40, 60; at t=80 the window (20, 80] holds two: fewer than 3
    assert feed(COUNT, points) == [(40.0, "raise", 3), (80.0, "recover", 0)]


def test_breaches_further_apart_than_the_window_never_count_up(feed):
    points = [(0, 90), (61, 90), (122, 90), (183, 90)]
    assert feed(COUNT, points, interval=61.0) == []


def test_window_boundary_is_open_on_the_old_side(feed):
    # breaches at 0, 30, 60: at t=60 the window is (0, 60] and holds only two
    assert feed(COUNT, [(0, 90), (30, 90), (60, 90)]) == []
    assert feed(COUNT, [(0, 90), (30, 90), (59.9, 90)]) == [(59.9, "raise", 3)]


AVG = {
    "name": "cpu", "item": "cpu.util", "levels": {"caution": ">= 80"},
    "window": "30s", "aggregate": "avg",
}  # fmt: skip


def test_average_ignores_a_single_spike_and_catches_a_sustained_rise(feed):
    points = [(0, 50), (10, 50), (20, 50), (30, 100), (40, 100), (50, 100)]
    # t=30: avg(50, 50, 100) = 66.7; t=40: avg(50, 100, 100) = 83.3
    assert feed(AVG, points) == [(40.0, "raise", 2)]


def test_aggregate_events_carry_the_aggregated_value():
    from tests.unit.streams.timeline import Feeder, make_engine

    f = Feeder(make_engine(AVG))
    f.values([(0, 50), (10, 50), (20, 50), (30, 100), (40, 100)], "cpu.util")
    assert round(f.events[0].value, 3) == 83.333


def test_min_over_window_means_every_sample_breached(feed):
    watch = {**AVG, "aggregate": "min"}
    points = [(-30, 90), (-20, 90), (-10, 90), (0, 90), (10, 90), (20, 70)]
    points += [(30, 90), (40, 90), (50, 90)]
    # raised once the samples cover the window (at -10); (t-30, t] must hold no value
    # below 80: the 70 at 20 leaves the window at t=50
    assert feed(watch, points) == [(-10.0, "raise", 2), (20.0, "recover", 0), (50.0, "raise", 2)]


def test_max_over_window_for_a_process_that_must_be_up(feed):
    watch = {
        "name": "down", "item": "proc.up", "levels": {"urgent": "< 1"},
        "window": "20s", "aggregate": "max",
    }  # fmt: skip
    points = [(0, 1), (10, 0), (20, 0), (30, 0), (40, 1)]
    # max over (t-20, t] is below 1 from t=20 (samples 10 and 20), back to 1 at 40
    assert feed(watch, points) == [(20.0, "raise", 4), (40.0, "recover", 0)]


def test_aggregate_with_duration_judges_the_aggregated_series(feed):
    watch = {**AVG, "duration": "20s"}
    points = every(0, 100, 10, 100)
    # the window is covered from t=20 (3 samples at 10 s span 30 s): 20 s sustained from there
    assert feed(watch, points) == [(40.0, "raise", 2)]
