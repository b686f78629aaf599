"""Per-second rates from cumulative counters, safe across wraps and restarts.

Kernel counters only grow, until they do not: a 32-bit counter wraps, a NIC
driver is reloaded, a device is replaced, the host reboots. Guessing the wrap
width turns a reset into a huge false spike, so a counter that goes backwards
simply restarts the baseline and yields no rate for that tick (Prometheus'
``rate()`` treats a decrease as a reset the same way). The first reading of a
counter yields nothing either: a rate needs two points.
"""

from __future__ import annotations

from collections.abc import Hashable


class RateTracker:
    """Remembers the last (value, time) per key; :meth:`rate` returns per-second deltas."""

    def __init__(self) -> None:
        self._last: dict[Hashable, tuple[float, float]] = {}

    def delta(self, key: Hashable, value: float, now: float) -> tuple[float, float] | None:
        """(increase, elapsed seconds) since the last reading, or None if there is no rate."""
        last = self._last.get(key)
        self._last[key] = (value, now)
        if last is None:
            return None
        increase, elapsed = value - last[0], now - last[1]
        if increase < 0 or elapsed <= 0:
            return None
        return increase, elapsed

    def rate(self, key: Hashable, value: float, now: float) -> float | None:
        d = self.delta(key, value, now)
        return None if d is None else d[0] / d[1]

    def forget_except(self, keys: set[Hashable]) -> None:
        """Drop baselines of keys not seen any more (an unplugged disk, a removed NIC)."""
        for key in set(self._last) - keys:
            del self._last[key]
