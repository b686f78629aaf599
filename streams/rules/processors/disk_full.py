"""Disk full in N hours: a least-squares line through the recent ``disk.used_pct``.

The proof that a predictor is one file plus one registration. It emits
``disk.full_in_h`` per mount: hours until 100 % at the current trend, capped at
``cap`` hours when the disk is not filling, when the fit is too short to trust,
or when the disk is still below ``min_used_pct`` (the node-exporter mixin's
"filling up *and* less than 15 % free" idea, so a fast-growing but nearly empty
disk does not page anyone). The default policy watches it below 24 h and 4 h.
The history is thinned to :data:`MAX_POINTS` points over the lookback, so one
host's state stays small whatever its collection interval.
"""

from __future__ import annotations

from typing import Any

from gamsi.streams.policy.values import Reader, join
from gamsi.streams.rules.registry import StreamProcessor, register

MAX_POINTS = 240
"""Points kept per mount: at most one per ``lookback / 240`` (90 s for 6 h) plus the newest,
so the state stays a few kB at any collection interval (a 1 s agent would otherwise keep
21,600 points per mount on the changelog)."""


@register("disk_full")
class DiskFull(StreamProcessor):
    input = "disk.used_pct"
    output = "disk.full_in_h"
    params = ("lookback", "min_span", "min_used_pct", "cap")

    def __init__(self, r: Reader, params: dict[str, Any], path: str) -> None:
        super().__init__(r, params, path)
        self.lookback = r.duration(params.get("lookback", "6h"), join(path, "lookback"))
        self.min_span = r.duration(params.get("min_span", "30m"), join(path, "min_span"))
        self.min_used = r.number(params.get("min_used_pct", 80.0), join(path, "min_used_pct"))
        self.cap = r.number(params.get("cap", 8760.0), join(path, "cap"))
        if self.min_span > self.lookback:
            raise r.fail(join(path, "min_span"), "expected a span no longer than lookback")

    def derive(self, state: Any, ts: float, value: float) -> tuple[Any, float | None]:
        times, values = state if state else ([], [])
        if len(times) >= 2 and ts - times[-2] < self.lookback / MAX_POINTS:
            times[-1], values[-1] = ts, value  # thin out: the newest sample replaces the last
        else:
            times.append(ts)
            values.append(value)
        horizon = ts - self.lookback
        drop = 0
        n = len(times) - 1
        while drop < n and times[drop] < horizon:
            drop += 1
        if drop:
            del times[:drop], values[:drop]
        return [times, values], self._hours_left(times, values, value)

    def _hours_left(self, times: list[float], values: list[float], now_value: float) -> float:
        if now_value < self.min_used or times[-1] - times[0] < self.min_span:
            return self.cap
        n = len(times)
        t0 = times[0]
        mean_t = sum(t - t0 for t in times) / n
        mean_v = sum(values) / n
        var = sum((t - t0 - mean_t) ** 2 for t in times)
        if var == 0:
            return self.cap
        slope = (
            sum((t - t0 - mean_t) * (v - mean_v) for t, v in zip(times, values, strict=True)) / var
        )
        if slope <= 0:
            return self.cap
        return min(self.cap, (100.0 - now_value) / slope / 3600.0)
