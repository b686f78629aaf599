"""What a stream worker does when partitions move to it (issue 16, part 3), without Kafka:
silence is not judged on a partition taken over until it has caught up, and a table
restore that stops receiving its changelog is fetched again."""

from __future__ import annotations

from gamsi.streams.recovery_watch import PartitionWatch, RecoveryWatch
from gamsi.streams.worker import Watching
from tests.unit.streams.timeline import fetched


def test_a_partition_taken_back_is_not_vouched_for_by_what_was_seen_before() -> None:
    highwater = {3: 100}
    done: dict[int, int | None] = {3: 100}
    w = Watching(15.0, fetched(highwater), done.get, fresh=5.0)
    assert not w(3, sent=1000.0, now=1000.0)
    assert w(3, sent=1001.0, now=1001.0)  # caught up with 100: owned and watching
    # partition 3 moves to another worker, which judges up to 500; then it comes back,
    # with this process's figures for it from before (judged 100, highwater 100 seen)
    highwater[3] = 500
    w.forget([3])
    assert not w(3, sent=1030.0, now=1030.0)  # the first tick after the assignment
    assert not w(3, sent=1031.0, now=1031.0)  # judged 100 < 500 there at the last tick
    done[3] = 500
    assert w(3, sent=1032.0, now=1032.0)  # caught up: watching again


def test_without_forgetting_a_stale_partition_would_be_vouched_for() -> None:
    """The fault forget() fixes: the previous highwater of an earlier ownership."""
    highwater = {3: 100}
    done = {3: 100}
    w = Watching(15.0, fetched(highwater), done.get, fresh=5.0)
    w(3, sent=1000.0, now=1000.0)
    highwater[3] = 500  # the partition moved on while another worker owned it
    assert w(3, sent=1030.0, now=1030.0)  # judged 100 "caught up" with 100: wrong
    w.forget([3])
    assert not w(3, sent=1031.0, now=1031.0)


def test_forgetting_one_partition_keeps_the_others_watching() -> None:
    highwater = {0: 10, 1: 20}
    done = {0: 10, 1: 20}
    w = Watching(15.0, fetched(highwater), done.get, fresh=5.0)
    for p in (0, 1):
        w(p, sent=1000.0, now=1000.0)
    w.forget([1])
    assert w(0, sent=1001.0, now=1001.0)
    assert not w(1, sent=1001.0, now=1001.0)


def test_a_restore_without_progress_is_fetched_again_from_its_last_applied_offset() -> None:
    watch = RecoveryWatch(stall=3.0)
    highwaters = {"cl-4": 96, "cl-5": 40}
    offsets = {"cl-4": -1, "cl-5": -1}
    assert watch.stalled(True, offsets, highwaters, now=0.0) == {}
    offsets["cl-5"] = 12  # partition 5 restores; 4 receives nothing
    assert watch.stalled(True, offsets, highwaters, now=2.0) == {}
    assert watch.stalled(True, offsets, highwaters, now=3.0) == {"cl-4": 0}
    assert watch.stalled(True, offsets, highwaters, now=4.0) == {}  # the new fetch's turn
    offsets["cl-4"] = 50  # it moves again: not stalled
    assert watch.stalled(True, offsets, highwaters, now=6.5) == {"cl-5": 13}
    assert watch.stalled(True, offsets, highwaters, now=9.0) == {}
    assert watch.stalled(True, offsets, highwaters, now=10.0) == {"cl-4": 51, "cl-5": 13}


def test_a_complete_or_empty_restore_and_no_recovery_are_never_stalled() -> None:
    watch = RecoveryWatch(stall=1.0)
    highwaters = {"done": 9, "empty": -1, "unknown": None}
    offsets = {"done": 9, "empty": -1, "unknown": None}
    for now in (0.0, 5.0, 10.0):
        assert watch.stalled(True, offsets, highwaters, now) == {}
    lagging = {"cl": 9}
    assert watch.stalled(True, {"cl": 3}, lagging, 0.0) == {}
    assert watch.stalled(False, {"cl": 3}, lagging, 5.0) == {}  # recovery over: forgotten
    assert watch.stalled(True, {"cl": 3}, lagging, 5.5) == {}  # a new recovery starts afresh


def test_a_partition_with_records_that_hands_none_over_is_fetched_again() -> None:
    """The cluster failover test's stall: one partition owned, 946 records on the broker,
    its next offset unmoved; fetched again from the next offset to judge."""
    watch = PartitionWatch(stall=10.0)
    nexts, ends = {3: 3054, 4: 4000}, {3: 4000, 4: 4000}
    assert watch.stalled(False, nexts, ends, now=0.0) == {}
    assert watch.stalled(False, nexts, ends, now=9.9) == {}
    assert watch.stalled(False, nexts, ends, now=10.0) == {3: 3054}  # 4 is caught up
    assert watch.stalled(False, nexts, ends, now=15.0) == {}  # the new fetch gets its time
    assert watch.stalled(False, nexts, ends, now=20.0) == {3: 3054}


def test_a_moving_caught_up_recovering_or_lost_partition_is_never_stalled() -> None:
    watch = PartitionWatch(stall=1.0)
    assert watch.stalled(False, {0: 10}, {0: 20}, now=0.0) == {}
    assert watch.stalled(False, {0: 11}, {0: 20}, now=5.0) == {}  # it moved
    assert watch.stalled(False, {0: 20}, {0: 20}, now=10.0) == {}  # caught up
    assert watch.stalled(False, {0: 20}, {0: None}, now=20.0) == {}  # end unknown
    assert watch.stalled(False, {1: 5}, {1: 9}, now=30.0) == {}
    assert watch.stalled(True, {1: 5}, {1: 9}, now=40.0) == {}  # a restore is not judged
    assert watch.stalled(False, {1: 5}, {1: 9}, now=40.5) == {}  # ...and restarts the clock
    assert watch.stalled(False, {}, {}, now=50.0) == {}  # lost: forgotten
    assert watch.stalled(False, {1: 5}, {1: 9}, now=50.5) == {}
