"""A worker judges every offset of its metrics partitions in order: what Faust drops is
read back (streams/gaps.py). The real broker's read-back: tests/integration/test_gaps.py."""

from __future__ import annotations

from typing import Any, NamedTuple

from gamsi.streams.gaps import Gaps


class Broker:
    """The partitions' committed offsets and records, as a reader answers them."""

    def __init__(self, committed: dict[int, int]) -> None:
        self._committed = committed
        self.reads: list[tuple[int, int, int]] = []

    async def committed(self, partitions: set[int]) -> dict[int, int]:
        return {p: self._committed[p] for p in partitions}

    async def read(self, partition: int, start: int, end: int) -> list[Any]:
        self.reads.append((partition, start, end))
        return [Record(partition, offset) for offset in range(start, end)]


class Record(NamedTuple):
    partition: int
    offset: int


async def before(gaps: Gaps, partition: int, offset: int) -> list[Any]:
    """What the worker judges before the record at ``offset`` (then that record)."""
    records = [r async for r in gaps.in_order(partition, offset, Record(partition, offset))]
    assert records[-1] == (partition, offset)
    return records[:-1]


async def test_records_dropped_before_the_first_handed_over_are_read_back() -> None:
    broker = Broker({0: 100, 1: 7})
    judged: dict[int, int] = {}
    gaps = Gaps(broker, judged)
    await gaps.assigned({0, 1}, set())
    assert judged == {0: 100, 1: 7}
    # Faust resumed partition 0 at 104: 100..103 were never handed over
    assert await before(gaps, 0, 104) == [(0, 100), (0, 101), (0, 102), (0, 103)]
    assert await before(gaps, 0, 105) == []  # then in order: nothing to read
    assert await before(gaps, 1, 7) == []
    assert broker.reads == [(0, 100, 104)]
    assert gaps.refetched == 4
    assert judged == {0: 106, 1: 8}


async def test_a_drop_in_the_middle_of_a_partition_is_read_back_too() -> None:
    broker = Broker({2: 0})
    gaps = Gaps(broker, {})
    await gaps.assigned({2}, set())
    for offset in range(3):
        assert await before(gaps, 2, offset) == []
    assert await before(gaps, 2, 5) == [(2, 3), (2, 4)]


async def test_a_replay_below_the_expected_offset_reads_nothing() -> None:
    """Records at or below what was judged (a redelivery, Faust's own seek back) are
    handed to the engine, which drops a batch it has seen; nothing is read back."""
    broker = Broker({0: 50})
    judged: dict[int, int] = {}
    gaps = Gaps(broker, judged)
    await gaps.assigned({0}, set())
    assert await before(gaps, 0, 50) == []
    assert await before(gaps, 0, 48) == []
    assert judged[0] == 51
    assert broker.reads == []


async def test_a_partition_lost_and_won_back_starts_from_the_committed_offset() -> None:
    broker = Broker({0: 10, 1: 20})
    judged: dict[int, int] = {}
    gaps = Gaps(broker, judged)
    await gaps.assigned({0, 1}, set())
    await before(gaps, 1, 20)
    await gaps.assigned({0}, {0, 1})  # partition 1 went to another worker
    assert 1 not in judged
    broker._committed[1] = 40  # which judged up to 40 and then died
    await gaps.assigned({0, 1}, {0})
    assert judged[1] == 40
    assert await before(gaps, 1, 42) == [(1, 40), (1, 41)]


async def test_unknown_committed_offsets_make_the_first_record_the_start() -> None:
    class Away(Broker):
        async def committed(self, partitions: set[int]) -> dict[int, int]:
            raise ConnectionError("Kafka away")

    broker = Away({})
    gaps = Gaps(broker, {})
    await gaps.assigned({0}, set())
    assert await before(gaps, 0, 30) == []
    assert await before(gaps, 0, 32) == [(0, 31)]


async def test_a_gap_counts_as_judged_only_once_judged() -> None:
    """The stream failover test's false silence: the next offset moved past a gap before
    the gap was read back, so a tick in between found the partition caught up."""
    judged: dict[int, int] = {}
    gaps = Gaps(Broker({0: 100}), judged)
    await gaps.assigned({0}, set())
    records = gaps.in_order(0, 103, Record(0, 103))
    assert await anext(records) == (0, 100)  # being judged
    assert judged[0] == 100  # not yet: a tick now must not take 100..103 for judged
    assert await anext(records) == (0, 101)
    assert judged[0] == 101
    assert [r async for r in records] == [(0, 102), (0, 103)]
    assert judged[0] == 104
