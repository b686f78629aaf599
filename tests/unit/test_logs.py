"""The rate-limited logging helper: one line per kind per period, the rest counted."""

from __future__ import annotations

import logging

import pytest

from gamsi.logs import MAX_KINDS, RateLimitFilter, rate_limit


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def record(msg: str, *args: object, name: str = "aiokafka", level: int = logging.ERROR):
    return logging.LogRecord(name, level, __file__, 1, msg, args, None)


def test_a_flood_of_one_kind_is_one_line_per_period_with_the_count() -> None:
    clock = Clock()
    limiter = RateLimitFilter(period=60.0, clock=clock)
    passed = []
    for i in range(17_953):  # the 135 s outage of issue 10: one record every 7.5 ms
        clock.now = i * 135.0 / 17_953
        r = record('Unable connect to "%s:%s": %s', "127.0.0.1", 9092, "refused")
        if limiter.filter(r):
            passed.append(r.getMessage())
    assert len(passed) == 3  # at 0, 60 and 120 s
    assert passed[0] == 'Unable connect to "127.0.0.1:9092": refused'
    assert passed[1].endswith("(7979 more like this in the last 60 s)")


def test_another_kind_is_a_state_change_and_passes_at_once() -> None:
    clock = Clock()
    limiter = RateLimitFilter(period=60.0, clock=clock)
    assert limiter.filter(record("Unable connect to %s", "a"))
    assert not limiter.filter(record("Unable connect to %s", "b"))  # same template
    assert limiter.filter(record("Unable to update metadata from %s", "a"))
    assert limiter.filter(record("Unable connect to %s", "a", level=logging.WARNING))
    assert limiter.filter(record("Unable connect to %s", "a", name="aiokafka.conn"))


def test_memory_is_bounded() -> None:
    clock = Clock()
    limiter = RateLimitFilter(clock=clock)
    for i in range(MAX_KINDS + 50):
        clock.now = float(i)
        limiter.filter(record(f"message {i}"))
    assert len(limiter._windows) == MAX_KINDS
    assert limiter.filter(record("message 0"))  # forgotten: passes again


def test_period_must_be_positive() -> None:
    with pytest.raises(ValueError, match="expected seconds > 0"):
        RateLimitFilter(period=0)


def test_rate_limit_covers_a_library_s_child_loggers_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    child = logging.getLogger("gamsitestlib.conn")
    limiter = rate_limit("gamsitestlib", period=3600.0)
    try:
        assert rate_limit("gamsitestlib") is limiter
        assert child.filters.count(limiter) == 1
        with caplog.at_level(logging.ERROR):
            for _ in range(100):
                child.error("Unable connect to %s", "broker")
        assert [r.getMessage() for r in caplog.records] == ["Unable connect to broker"]
    finally:
        for name in ("gamsitestlib", "gamsitestlib.conn"):
            logging.getLogger(name).removeFilter(limiter)


def test_a_whole_library_can_be_one_kind() -> None:
    """A service wants one line a minute from its Kafka client, whatever it says."""
    now = [0.0]
    limiter = RateLimitFilter(60.0, clock=lambda: now[0], source="lib")
    said = [
        limiter.filter(logging.LogRecord(name, logging.ERROR, "", 0, msg, None, None))
        for name, msg in [("lib.a", "x %s"), ("lib.b", "y"), ("lib.a", "z")]
    ]
    assert said == [True, False, False]
    now[0] = 61.0
    record = logging.LogRecord("lib.c", logging.WARNING, "", 0, "w", None, None)
    assert limiter.filter(record)
    assert "2 more like this" in record.getMessage()
