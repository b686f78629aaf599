"""Time the pipeline was not watching is not the host's silence (no-data on evidence only)."""

from __future__ import annotations

from gamsi.streams.engine import Engine
from gamsi.streams.policy import load_policy
from gamsi.streams.worker import Watching
from tests.unit.streams.timeline import Feeder, fetched


def defaults() -> Feeder:
    return Feeder(Engine(load_policy(None, "linux")))


def silent(f: Feeder) -> list[tuple[str, str, float]]:
    return [(e.watch, e.transition, e.ts) for e in f.events if e.watch.endswith("/nodata")]


def test_a_worker_down_for_five_minutes_does_not_read_as_a_silent_agent():
    f = defaults()
    for i in range(10):  # batches and ticks every 10 s
        f.push(1000.0 + 10 * i, [])
        f.tick(5000.0 + 10 * i)
    # the worker was down (or its partition lagged): next tick 300 s later, no batch between
    assert f.tick(5390.0) == []  # Gamsi used to raise agent-silent URGENT here
    # the collector never stopped: its queued batches are judged, ticks go on, nothing fires
    for i in range(10, 50):
        f.push(1000.0 + 10 * i, [])
        f.tick(5390.0 + 10 * (i - 9))
    assert silent(f) == []


def test_a_host_that_is_really_silent_is_raised_a_full_timeout_after_the_pipeline_is_back():
    f = defaults()
    f.push(1000.0, [])
    f.ticks(5000.0, 5010.0)
    f.tick(5400.0)  # pipeline back after 390 s away; the host sent nothing since
    f.ticks(5405.0, 5455.0)
    assert silent(f) == []
    f.tick(5460.0)
    assert silent(f) == [("agent-silent/nodata", "raise", 5460.0)]


def test_ticks_while_the_partition_lags_judge_nothing():
    f = defaults()
    f.push(1000.0, [])
    f.ticks(5000.0, 5010.0)
    # the host's batches are queued behind a backlog: ticks arrive, but cannot vouch
    for now in range(5015, 5200, 5):
        assert f.engine.tick(f.state, f.host, float(now), watching=False)[1] == []
    f.push(1010.0, [])  # the backlog drains; the host had been sending all along
    f.ticks(5200.0, 5250.0)
    assert silent(f) == []


def test_watching_needs_a_fresh_tick_and_a_caught_up_partition():
    highwater = {0: 100}
    done: dict[int, int | None] = {0: 90}
    w = Watching(15.0, fetched(highwater), done.get, fresh=5.0)
    assert not w(0, sent=1000.0, now=1000.1)  # no earlier tick: nothing to vouch for yet
    highwater[0] = 120
    assert not w(0, sent=1005.0, now=1005.1)  # 90 judged < 100 on the partition at 1000
    done[0] = 100
    assert not w(0, sent=1010.0, now=1010.1)  # 100 judged < 120 on the partition at 1005
    done[0] = 120
    assert w(0, sent=1015.0, now=1015.1)  # all that was there at the previous tick is judged
    assert not w(0, sent=1020.0, now=1100.0)  # a tick queued for 80 s is not evidence
    assert w(0, sent=1025.0, now=1025.1)
    assert not w(0, sent=1e300, now=1026.0)  # a tick from the future (forged): not evidence
    assert not w(0, sent=float("nan"), now=1027.0)
    done[0] = None
    assert not w(0, sent=1030.0, now=1030.1)  # nothing known about this partition


def test_an_end_offset_from_a_fetch_older_than_a_tick_vouches_for_nothing():
    """The stream failover test's false silence: a partition's batches went unjudged for
    3 s (the consumer no longer fetched it) while its ticks kept coming; the end offset of
    its last fetch was all judged, so every tick watched and its hosts were raised silent.
    """
    seen: dict[int, tuple[int, float]] = {0: (100, 1000.0)}
    done = {0: 100}
    w = Watching(15.0, seen.get, done.get, fresh=1.0)
    assert not w(0, sent=1000.0, now=1000.0)  # first tick: nothing to vouch for yet
    assert w(0, sent=1001.0, now=1001.0)  # 100 on the partition at 1000, 100 judged
    # the consumer stops fetching partition 0: it keeps end 100 of the fetch at 1000
    assert w(0, sent=1002.0, now=1002.0)  # the end seen at 1001, from a fetch 1 s old: current
    assert not w(0, sent=1003.0, now=1003.0)  # the one seen at 1002, 2 s old, is not
    seen[0] = (180, 1003.5)  # fetched again: 80 more records, not judged yet
    assert not w(0, sent=1004.0, now=1004.0)
    done[0] = 180
    assert w(0, sent=1005.0, now=1005.0)  # all that a current fetch saw at 1004 is judged
