"""What the stream worker's agents do per record, without Faust: judge a batch, run a tick.

:func:`judge_batch` decodes one metric batch, refuses it when it breaks a bound
(gamsi.streams.limits) or cannot be placed in its host's order
(gamsi.streams.ordering), judges it with the host's state and stores the new state.
Any exception it raises becomes a dead letter (gamsi.deadletter.screen) and the
worker goes on; an exception from inside the engine — a fault no record should be
able to cause — also resets that host's state, so one host's bad state can never
fail every later batch of that host. :func:`run_ticks` does the same per host for
the no-data timers, visiting only the hosts of the tick's partition (:class:`HostsByPartition`
indexes them). :class:`Watching` decides whether a tick may judge silence.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, MutableMapping
from typing import Any

import orjson

from gamsi.schemas.codec import DecodeError, decode_metric_batch
from gamsi.schemas.records import SeverityEvent
from gamsi.streams import state as host_state
from gamsi.streams.limits import Limits, check_batch
from gamsi.streams.ordering import Refused
from gamsi.streams.outbox import Outbox

log = logging.getLogger(__name__)

SIZE_CHECK_EVERY = 32
"""A host's state is measured on the changelog every this many batches (and on new series)."""
COUNTERS: Counter[str] = Counter()
"""Self-monitoring counters of this worker process (refused batches, host resets)."""


class BatchRefused(DecodeError):
    """A well-formed batch that breaks a bound of the ``[streams]`` settings."""


def dump_state(value: Any) -> bytes:
    """The state table's value serializer: host states in their changelog form."""
    return orjson.dumps(value, default=host_state.default)


def judge_batch(
    engine: Any,
    table: MutableMapping[str, Any],
    value: bytes,
    partition: int,
    limits: Limits | None = None,
    now: float | None = None,
    outbox: Outbox | None = None,
) -> tuple[str, list[SeverityEvent]]:
    """Decode, check and judge one metric batch; store its host's new state in ``table``
    (``{"p": partition, "s": state}``, and with an ``outbox`` the transitions not yet
    acknowledged, ``"o"``: gamsi.streams.outbox): (host, events to send now: the new
    transitions, after any a restored record still owed). Raises on any refusal."""
    limits = limits or Limits()
    batch = decode_metric_batch(value, columns=True)  # the engine reads the columns
    reason = check_batch(batch, time.time() if now is None else now, limits)
    if reason is not None:
        COUNTERS["batches_refused"] += 1
        raise BatchRefused(f"{batch.host}: {reason}")
    held = table.get(batch.host)
    before = held and held["s"]
    known = len(before.series) if isinstance(before, host_state.HostState) else -1
    try:
        new_state, transitions = engine.process(before, batch)
    except Refused as exc:
        COUNTERS["batches_refused"] += 1
        raise BatchRefused(f"{batch.host}: {exc}") from None
    except Exception:
        _reset(table, batch.host, partition, "judging a batch")
        raise
    if len(new_state.series) != known or batch.seq % SIZE_CHECK_EVERY == 0:
        size = len(dump_state(new_state))
        if size > limits.max_state_bytes:
            _reset(table, batch.host, partition, "its state outgrew max_state_bytes")
            COUNTERS["batches_refused"] += 1
            raise BatchRefused(
                f"{batch.host}: state would be {size} bytes on the changelog "
                f"(max_state_bytes = {limits.max_state_bytes}); the host is judged afresh"
            )
    value: dict[str, Any] = {"p": partition, "s": new_state}
    if outbox is not None:
        value, transitions = outbox.record(held, value, transitions)
    table[batch.host] = value
    return batch.host, transitions


class HostsByPartition(MutableMapping[str, Any]):
    """The host-state table with its hosts indexed by partition, so that a tick visits the
    hosts of its own partition only: O(hosts of the partition), not O(all hosts).

    Every write through this mapping (``{"p": partition, "s": state}``) files the host
    under ``p`` (a host that moves partition, after a change of the partition count, is
    moved); a delete forgets it. Writes that bypass it — Faust restoring the table from
    its changelog after a restart or a rebalance, a revoked partition dropped — are caught
    at the next :meth:`hosts_of`: the index is rebuilt (one pass over the table) when the
    table's size differs from the index's or :meth:`invalidate` was called (the app calls
    it when the table has been recovered), and a listed host whose state has gone or
    moved is dropped or moved as the tick visits it.
    """

    def __init__(self, table: MutableMapping[str, Any]) -> None:
        self.table = table
        self._partition: dict[str, int | None] = {}  # host → its partition (None: no state)
        self._hosts: dict[int, dict[str, None]] = {}  # partition → its hosts, in write order
        self._stale = True

    def __getitem__(self, host: str) -> Any:
        return self.table[host]

    def get(self, host: str, default: Any = None) -> Any:
        return self.table.get(host, default)

    def __setitem__(self, host: str, value: Any) -> None:
        self.table[host] = value
        self._file(host, value)

    def __delitem__(self, host: str) -> None:
        del self.table[host]
        self._forget(host)

    def __iter__(self) -> Iterator[str]:
        return iter(self.table)

    def __len__(self) -> int:
        return len(self.table)

    def invalidate(self) -> None:
        """Rebuild the index on the next :meth:`hosts_of` (the table changed underneath)."""
        self._stale = True

    def hosts_of(self, partition: int) -> list[str]:
        """The hosts filed under ``partition`` (a copy: the caller may write the table)."""
        if self._stale or len(self.table) != len(self._partition):
            self._rebuild()
        return list(self._hosts.get(partition, ()))

    def revise(self, host: str, partition: int) -> Any:
        """The held value of a listed host if it still belongs to ``partition``; otherwise
        None, and the index follows the table (the host is forgotten or moved)."""
        held = self.table.get(host)
        if held is None or held.get("p") != partition:
            self._file(host, held)
            return None
        return held

    def _file(self, host: str, value: Any) -> None:
        partition = value.get("p") if isinstance(value, dict) else None
        before = self._partition.get(host)
        if host in self._partition and before == partition:
            return
        if before is not None:
            self._hosts[before].pop(host, None)
        if value is None:  # gone from the table
            self._partition.pop(host, None)
            return
        self._partition[host] = partition  # counted even when unplaceable (size check)
        if partition is not None:
            self._hosts.setdefault(partition, {})[host] = None

    def _forget(self, host: str) -> None:
        before = self._partition.pop(host, None)
        if before is not None:
            self._hosts[before].pop(host, None)

    def _rebuild(self) -> None:
        self._partition.clear()
        self._hosts.clear()
        for host, held in list(self.table.items()):
            self._file(host, held)
        self._stale = False


def run_ticks(
    engine: Any,
    table: MutableMapping[str, Any],
    partition: int,
    now: float,
    watching: bool,
    report: Callable[[str, BaseException], None],
    outbox: Outbox | None = None,
) -> list[tuple[str, list[SeverityEvent]]]:
    """Run the no-data timers of every host of ``partition``; a host whose tick fails is
    reset and reported (``report(host, exc)``), the others go on. With a
    :class:`HostsByPartition` only that partition's hosts are visited; a plain mapping is
    indexed for this call (one pass over it). With an ``outbox``, a record is written
    with its transitions carried (as :func:`judge_batch`), a restored record's owed
    events are sent again, a record whose carried events are all acknowledged is written
    without them, and one with a send that failed is written and the event sent again."""
    hosts = table if isinstance(table, HostsByPartition) else HostsByPartition(table)
    out = []
    for host in hosts.hosts_of(partition):
        held = hosts.revise(host, partition)
        if held is None:
            continue
        restored = not isinstance(held["s"], host_state.HostState)
        try:
            new_state, transitions = engine.tick(held["s"], host, now, watching)
            due = outbox is not None and outbox.due(held)
            if transitions or restored or due:
                value: dict[str, Any] = {"p": partition, "s": new_state}
                if outbox is not None:
                    value, transitions = outbox.record(held, value, transitions)
                hosts[host] = value
        except Exception as exc:  # a bug a state revealed: never stop the worker
            _reset(hosts, host, partition, "a tick")
            report(host, exc)
            continue
        if transitions:
            out.append((host, transitions))
    return out


def _reset(table: MutableMapping[str, Any], host: str, partition: int, during: str) -> None:
    COUNTERS["host_resets"] += 1
    log.error("resetting the state of host %s after a failure in %s", host, during)
    held = table.get(host)
    value = {"p": partition, "s": host_state.HostState()}
    if isinstance(held, dict) and isinstance(held.get("o"), list):
        value["o"] = held["o"]  # its transitions still owed to the events topic
    table[host] = value


class Watching:
    """Whether a tick on a partition may judge silence: the pipeline saw what there was.

    A tick watches only when it is fresh (sent at most ``gap`` seconds from now either way:
    a tick queued while the worker was down is not evidence, nor one stamped in the
    future) and every metric batch that was on the partition at the previous tick has
    been judged (a lagging partition is not evidence either).

    ``highwater(partition)`` gives the partition's end offset as the consumer's last fetch
    saw it, with that fetch's wall-clock time in seconds (None: never fetched);
    ``done(partition)`` the next offset to judge (None: unknown). An end offset seen by a
    fetch more than ``fresh`` seconds before the tick is no evidence: the consumer keeps
    the end of its last fetch for a partition it stopped fetching (paused by a rebalance
    or a recovery, its records not taken, a stalled fetcher), and judging up to that old
    end says nothing about what arrived since. Seen in the stream failover test: a
    partition's batches unjudged for 3 s while its ticks watched, so its hosts were
    raised silent and recovered a tick later.
    """

    def __init__(
        self,
        gap: float,
        highwater: Callable[[int], tuple[int, float] | None],
        done: Callable[[int], int | None],
        fresh: float,
    ) -> None:
        self.gap = gap
        self.fresh = fresh
        self.highwater = highwater
        self.done = done
        self._previous: dict[int, int | None] = {}

    def __call__(self, partition: int, sent: float, now: float) -> bool:
        """``sent``: the tick's time (its sender's clock); ``now``: this process's wall
        clock, in seconds."""
        previous = self._previous.get(partition)
        seen = self.highwater(partition)
        self._previous[partition] = seen[0] if seen and now - seen[1] <= self.fresh else None
        if not abs(now - sent) <= self.gap:  # queued, or from a clock we cannot follow (NaN too)
            return False
        done = self.done(partition)
        return previous is not None and done is not None and done >= previous

    def forget(self, partitions: Iterable[int]) -> None:
        """``partitions`` were assigned to this worker anew (a rebalance, a failover): what
        this process saw of them while it owned them before is no evidence, so the next
        tick on each cannot watch, and the one after watches only once the partition has
        caught up with the end offset seen at that first tick (docs/rules.md)."""
        for partition in partitions:
            self._previous.pop(partition, None)
