"""Deltas and per-second rates from cumulative counters, safe across wraps and resets.

Kernel counters only grow, until they do not: a 32-bit counter wraps, a NIC
driver is reloaded, a device is replaced, a process restarts, the host reboots.
Guessing the wrap width, or clamping a negative delta to 0, turns a reset into a
false spike or a false dip, so the rule here is (Prometheus' ``rate()`` treats a
decrease as a reset the same way):

* The counters of one instance (a CPU or core, a block device, a NIC, a process)
  are read together as one *group*. If **any** counter of the group went
  backwards, the whole group restarts its baseline and yields nothing on that
  tick: every value derived from several counters (CPU busy % from ten fields,
  disk await from four) is then skipped rather than computed from a mix of
  reset and unreset counters. The next tick measures from the new baseline.
* The first reading of a group yields nothing: a delta needs two points.
* No time elapsed, a value that is not a number, or a counter that appears or
  disappears between two readings also restarts the baseline.

So a derived value is either computed from counters that all grew normally, or
not reported on that tick; it is never clamped into range.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import NamedTuple


class Deltas(NamedTuple):
    """Increases of a counter group between two readings.

    ``increases`` maps each field that has a value to its increase (>= 0, the
    counter's unit); fields reported as None (the platform lacks them) are absent.
    ``elapsed`` is the time between the readings in seconds (> 0).
    """

    increases: dict[str, float]
    elapsed: float


class CounterTracker:
    """Remembers the last reading of each counter group; :meth:`deltas` compares with it."""

    def __init__(self) -> None:
        self._last: dict[Hashable, tuple[dict[str, float | None], float]] = {}

    def deltas(
        self, key: Hashable, counters: Mapping[str, float | None], now: float
    ) -> Deltas | None:
        """Increases since the last reading of ``key``, or None (first reading, or a reset).

        ``counters`` maps field names to cumulative values (None: not available on
        this platform); ``now`` is monotonic seconds. The reading always becomes
        the new baseline, so after a reset the next call measures from it.
        """
        last = self._last.get(key)
        reading = dict(counters)
        self._last[key] = (reading, now)
        if last is None:
            return None
        before, then = last
        elapsed = now - then
        if not elapsed > 0 or before.keys() != reading.keys():
            return None
        increases: dict[str, float] = {}
        for field, value in reading.items():
            old = before[field]
            if value is None and old is None:
                continue
            if value is None or old is None:
                return None  # a counter appeared or vanished: not comparable
            increase = value - old
            if not increase >= 0:  # went backwards (or NaN): a reset of the whole group
                return None
            increases[field] = increase
        return Deltas(increases, elapsed)

    def forget_except(self, keys: set[Hashable]) -> None:
        """Drop baselines of keys not seen any more (an unplugged disk, an exited process)."""
        for key in set(self._last) - keys:
            del self._last[key]

    def forget(self, keys: set[Hashable]) -> None:
        """Drop these baselines: their next reading starts afresh (a CPU went offline)."""
        for key in keys:
            self._last.pop(key, None)


class RateTracker(CounterTracker):
    """A :class:`CounterTracker` of single counters: :meth:`rate` gives per-second increases."""

    def delta(self, key: Hashable, value: float, now: float) -> tuple[float, float] | None:
        """(increase, elapsed seconds) since the last reading, or None if there is no rate."""
        d = self.deltas(key, {"value": value}, now)
        return None if d is None else (d.increases["value"], d.elapsed)

    def rate(self, key: Hashable, value: float, now: float) -> float | None:
        """Increase per second since the last reading of ``key``, or None (see the module)."""
        d = self.delta(key, value, now)
        return None if d is None else d[0] / d[1]
