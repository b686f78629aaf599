"""Duration (지속시간) and occurrence count (발생 횟수) on consecutive samples."""

from __future__ import annotations

from tests.unit.streams.timeline import Feeder, every, make_engine

CPU = {"name": "cpu", "item": "cpu.util", "levels": {"urgent": ">= 90"}}


def test_raises_exactly_when_the_breach_has_lasted_the_duration(feed):
    watch = {**CPU, "duration": "60s"}
    assert feed(watch, every(0, 100, 10, 50) + every(100, 200, 10, 95)) == [(160.0, "raise", 4)]


def test_a_normal_sample_restarts_the_duration(feed):
    watch = {**CPU, "duration": "60s"}
    points = [*every(100, 150, 10, 95), (150, 50), *every(160, 260, 10, 95)]
    assert feed(watch, points) == [(220.0, "raise", 4)]


def test_a_gap_longer_than_three_intervals_restarts_the_duration(feed):
    watch = {**CPU, "duration": "60s"}
    points = [(100, 95), (110, 95), *every(150, 230, 10, 95)]  # 40 s gap > 3 x 10 s
    assert feed(watch, points) == [(210.0, "raise", 4)]


def test_since_is_when_the_breach_began_not_when_it_was_raised():
    f = Feeder(make_engine({**CPU, "duration": "60s"}))
    f.values(every(100, 170, 10, 95), "cpu.util")
    (event,) = f.events
    assert (event.ts, event.since) == (160.0, 100.0)


def test_recovers_on_the_first_normal_sample_without_clear_duration(feed):
    watch = {**CPU, "duration": "20s"}
    assert feed(watch, [*every(0, 30, 10, 95), (30, 50)]) == [
        (20.0, "raise", 4),
        (30.0, "recover", 0),
    ]


def test_consecutive_count_needs_that_many_breaching_samples_in_a_row(feed):
    watch = {**CPU, "count": 3}
    points = [(10, 95), (20, 95), (30, 50), (40, 95), (50, 95), (60, 95)]
    assert feed(watch, points) == [(60.0, "raise", 4)]


def test_count_and_duration_must_both_hold(feed):
    watch = {**CPU, "count": 3, "duration": "60s"}
    # every 10 s: the duration is the later condition
    assert feed(watch, every(0, 100, 10, 95))[0] == (60.0, "raise", 4)
    # every 60 s: the count is the later condition (third sample at 120 s)
    assert feed(watch, every(0, 300, 60, 95), interval=60.0)[0] == (120.0, "raise", 4)


def test_duration_zero_and_count_one_raise_on_the_first_breaching_sample(feed):
    assert feed(CPU, [(0, 50), (10, 90)]) == [(10.0, "raise", 4)]


def test_threshold_comparisons_are_exact(feed):
    strict = {**CPU, "levels": {"urgent": "> 90"}}
    assert feed(strict, [(0, 90.0)]) == []
    assert feed(strict, [(0, 90.000001)]) == [(0.0, "raise", 4)]
    assert feed(CPU, [(0, 90.0)]) == [(0.0, "raise", 4)]
