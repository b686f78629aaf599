"""A tick visits the hosts of its own partition only (issue 15: no work that grows with the
fleet on every tick), and the index follows the table whoever writes it."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from gamsi.schemas.codec import encode
from gamsi.schemas.records import MetricBatch
from gamsi.streams.engine import Engine
from gamsi.streams.policy import load_policy
from gamsi.streams.worker import HostsByPartition, judge_batch, run_ticks

NOW = float(int(time.time()))


class Recorder:
    """An engine whose tick records the hosts it was asked about and changes nothing."""

    def __init__(self) -> None:
        self.ticked: list[str] = []

    def tick(self, state: Any, host: str, now: float, watching: bool = True) -> tuple[Any, list]:
        self.ticked.append(host)
        return state, []


class CountingTable(dict[str, Any]):
    """A table that counts full passes over it (what the index must avoid per tick)."""

    passes = 0

    def __iter__(self) -> Iterator[str]:
        self.passes += 1
        return super().__iter__()

    def items(self) -> Any:
        self.passes += 1
        return super().items()


def held(partition: int) -> dict[str, Any]:
    return {"p": partition, "s": "restored"}  # a changelog-restored state (not a HostState)


def fleet(per_partition: int, partitions: int) -> HostsByPartition:
    hosts = HostsByPartition(CountingTable())
    for p in range(partitions):
        for i in range(per_partition):
            hosts[f"h{p}-{i}"] = held(p)
    return hosts


def test_a_tick_visits_its_partitions_hosts_and_never_walks_the_whole_table():
    hosts = fleet(per_partition=3, partitions=4)
    engine = Recorder()
    run_ticks(engine, hosts, 2, NOW, True, lambda h, e: None)
    assert engine.ticked == ["h2-0", "h2-1", "h2-2"]
    first = hosts.table.passes  # at most the one pass that indexes what was there before
    assert first <= 1
    for tick in range(10):
        engine.ticked.clear()
        run_ticks(engine, hosts, 3, NOW + tick, True, lambda h, e: None)
        assert engine.ticked == ["h3-0", "h3-1", "h3-2"]
    assert hosts.table.passes == first  # every host was filed as it was written


def test_a_host_that_moves_partition_is_ticked_by_its_new_partition_only():
    hosts = fleet(per_partition=2, partitions=2)
    hosts["h0-0"] = held(1)  # the partition count changed: the host now hashes elsewhere
    assert hosts.hosts_of(0) == ["h0-1"]
    assert sorted(hosts.hosts_of(1)) == ["h0-0", "h1-0", "h1-1"]
    hosts["h0-0"] = held(1)  # written again in place: listed once
    assert sorted(hosts.hosts_of(1)) == ["h0-0", "h1-0", "h1-1"]


def test_a_host_whose_state_goes_is_forgotten():
    hosts = fleet(per_partition=2, partitions=2)
    del hosts["h0-0"]
    assert hosts.hosts_of(0) == ["h0-1"]
    engine = Recorder()
    del hosts.table["h0-1"]  # dropped underneath (a revoked partition)
    run_ticks(engine, hosts, 0, NOW, True, lambda h, e: None)
    assert engine.ticked == []
    assert hosts.hosts_of(0) == []
    assert "h0-1" not in hosts


def test_states_restored_behind_the_index_are_found_by_the_next_tick():
    hosts = fleet(per_partition=1, partitions=2)
    hosts.table["restored"] = held(1)  # Faust recovering the table from its changelog
    assert sorted(hosts.hosts_of(1)) == ["h1-0", "restored"]
    # a revocation and a recovery of the same size: the recovery callback invalidates
    del hosts.table["h1-0"]
    hosts.table["other"] = held(0)
    hosts.invalidate()
    assert sorted(hosts.hosts_of(0)) == ["h0-0", "other"]
    assert hosts.hosts_of(1) == ["restored"]


def test_a_silent_host_is_raised_by_the_tick_of_its_own_partition():
    engine = Engine(load_policy(None, "linux"))  # the shipped agent-silent no-data watch
    hosts = HostsByPartition({})
    for host, partition in (("web-1", 4), ("web-2", 1)):
        batch = MetricBatch(host, NOW, [], 1, 10.0, "linux", run="r1")
        judge_batch(engine, hosts, encode(batch), partition, now=NOW)
    report: list[tuple[str, BaseException]] = []
    raised: dict[int, list[str]] = {1: [], 4: []}
    for now in range(int(NOW), int(NOW) + 400, 10):
        for partition, hosts_raised in raised.items():
            ticked = run_ticks(engine, hosts, partition, float(now), True, _collect(report))
            hosts_raised += [h for h, events in ticked for e in events if e.transition == "raise"]
    assert report == []
    assert raised == {1: ["web-2"], 4: ["web-1"]}


def _collect(into: list[tuple[str, BaseException]]) -> Any:
    return lambda host, exc: into.append((host, exc))
