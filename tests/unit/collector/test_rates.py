import math

import pytest

from gamsi.collector.rates import CounterTracker, Deltas, RateTracker


@pytest.mark.parametrize(
    ("readings", "expected"),
    [
        ([(100, 0.0)], [None]),  # a rate needs two points
        ([(100, 0.0), (300, 2.0)], [None, 100.0]),
        ([(100, 0.0), (300, 2.0), (50, 3.0), (150, 4.0)], [None, 100.0, None, 100.0]),  # reset
        ([(2**32 - 10, 0.0), (5, 1.0), (15, 2.0)], [None, None, 10.0]),  # 32-bit wrap
        ([(100, 1.0), (200, 1.0)], [None, None]),  # no time passed
        ([(7, 0.0), (7, 1.0)], [None, 0.0]),
    ],
)
def test_rate_timeline(readings: list[tuple[int, float]], expected: list[float | None]) -> None:
    tracker = RateTracker()
    assert [tracker.rate("k", v, t) for v, t in readings] == expected


def test_forget_except_drops_vanished_keys() -> None:
    tracker = RateTracker()
    tracker.rate("eth0", 10, 0.0)
    tracker.rate("eth1", 10, 0.0)
    tracker.forget_except({"eth0"})
    assert tracker.rate("eth0", 20, 1.0) == 10.0
    assert tracker.rate("eth1", 20, 1.0) is None  # baseline was forgotten


def test_a_group_restarts_when_any_counter_goes_back() -> None:
    tracker = CounterTracker()
    assert tracker.deltas("vda", {"ops": 10, "ms": 50}, 0.0) is None
    assert tracker.deltas("vda", {"ops": 20, "ms": 40}, 1.0) is None  # ms went back
    d = tracker.deltas("vda", {"ops": 25, "ms": 60}, 2.0)
    assert d == Deltas({"ops": 5, "ms": 20}, 1.0)  # measured from the reset reading


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ({"a": 1.0, "b": None}, {"a": 2.0, "b": 5.0}),  # a counter appeared
        ({"a": 1.0, "b": 3.0}, {"a": 2.0, "b": None}),  # a counter vanished
        ({"a": 1.0}, {"a": 2.0, "b": 5.0}),  # a new field
        ({"a": 1.0}, {"a": math.nan}),  # not a number
    ],
)
def test_a_group_that_cannot_be_compared_gives_nothing(
    before: dict[str, float | None], after: dict[str, float | None]
) -> None:
    tracker = CounterTracker()
    tracker.deltas("k", before, 0.0)
    assert tracker.deltas("k", after, 1.0) is None


def test_fields_the_platform_lacks_are_absent_from_the_deltas() -> None:
    tracker = CounterTracker()
    tracker.deltas("cpu", {"user": 1.0, "iowait": None}, 0.0)
    assert tracker.deltas("cpu", {"user": 3.0, "iowait": None}, 2.0) == Deltas({"user": 2.0}, 2.0)
