"""What the stream worker's agents do per record, without Faust: judge a batch, run a tick.

:func:`judge_batch` decodes one metric batch, refuses it when it breaks a bound
(gamsi.streams.limits) or cannot be placed in its host's order
(gamsi.streams.ordering), judges it with the host's state and stores the new state.
Any exception it raises becomes a dead letter (gamsi.deadletter.screen) and the
worker goes on; an exception from inside the engine — a fault no record should be
able to cause — also resets that host's state, so one host's bad state can never
fail every later batch of that host. :func:`run_ticks` does the same per host for
the no-data timers. :class:`Watching` decides whether a tick may judge silence.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, MutableMapping
from typing import Any

import orjson

from gamsi.schemas.codec import DecodeError, decode_metric_batch
from gamsi.schemas.records import SeverityEvent
from gamsi.streams import state as host_state
from gamsi.streams.limits import Limits, check_batch
from gamsi.streams.ordering import Refused

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
) -> tuple[str, list[SeverityEvent]]:
    """Decode, check and judge one metric batch; store its host's new state in ``table``
    (``{"p": partition, "s": state}``): (host, transitions). Raises on any refusal."""
    limits = limits or Limits()
    batch = decode_metric_batch(value)
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
    table[batch.host] = {"p": partition, "s": new_state}
    return batch.host, transitions


def run_ticks(
    engine: Any,
    table: MutableMapping[str, Any],
    partition: int,
    now: float,
    watching: bool,
    report: Callable[[str, BaseException], None],
) -> list[tuple[str, list[SeverityEvent]]]:
    """Run the no-data timers of every host of ``partition``; a host whose tick fails is
    reset and reported (``report(host, exc)``), the others go on."""
    out = []
    for host, held in list(table.items()):
        if held is None or held["p"] != partition:
            continue
        restored = not isinstance(held["s"], host_state.HostState)
        try:
            new_state, transitions = engine.tick(held["s"], host, now, watching)
        except Exception as exc:  # a bug a state revealed: never stop the worker
            _reset(table, host, partition, "a tick")
            report(host, exc)
            continue
        if transitions or restored:
            table[host] = {"p": partition, "s": new_state}
        if transitions:
            out.append((host, transitions))
    return out


def _reset(table: MutableMapping[str, Any], host: str, partition: int, during: str) -> None:
    COUNTERS["host_resets"] += 1
    log.error("resetting the state of host %s after a failure in %s", host, during)
    table[host] = {"p": partition, "s": host_state.HostState()}


class Watching:
    """Whether a tick on a partition may judge silence: the pipeline saw what there was.

    A tick watches only when it is fresh (sent at most ``gap`` seconds from now either way:
    a tick queued while the worker was down is not evidence, nor one stamped in the
    future) and every metric batch that was
    on the partition at the previous tick has been judged (a lagging partition is not
    evidence either). ``highwater(partition)`` gives the partition's end offset as the
    consumer last saw it, ``done(partition)`` the next offset to judge (None: unknown).
    """

    def __init__(
        self,
        gap: float,
        highwater: Callable[[int], int | None],
        done: Callable[[int], int | None],
    ) -> None:
        self.gap = gap
        self.highwater = highwater
        self.done = done
        self._previous: dict[int, int | None] = {}

    def __call__(self, partition: int, sent: float, now: float) -> bool:
        previous = self._previous.get(partition)
        self._previous[partition] = self.highwater(partition)
        if not abs(now - sent) <= self.gap:  # queued, or from a clock we cannot follow (NaN too)
            return False
        done = self.done(partition)
        return previous is not None and done is not None and done >= previous
