import pytest

from gamsi.collector.rates import RateTracker


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
