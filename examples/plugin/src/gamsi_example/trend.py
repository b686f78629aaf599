# examples/plugin/src/gamsi_example/trend.py
"""How fast the memory headroom changes: a derived item that watches can judge."""

from typing import Any

from gamsi.streams.policy.values import Reader, join
from gamsi.streams.rules.registry import StreamProcessor, register


@register("headroom_trend")
class HeadroomTrend(StreamProcessor):
    """``memory.headroom_change_bps``: bytes per second gained (negative: being used up)."""

    input = "memory.headroom_bytes"
    output = "memory.headroom_change_bps"
    params = ("min_gap",)

    def __init__(self, r: Reader, params: dict[str, Any], path: str) -> None:
        super().__init__(r, params, path)  # rejects unknown parameters, naming the key
        self.min_gap = r.duration(params.get("min_gap", "5s"), join(path, "min_gap"))
        if self.min_gap <= 0:
            raise r.fail(join(path, "min_gap"), "expected a duration above 0")

    def derive(self, state: Any, ts: float, value: float) -> tuple[Any, float | None]:
        # state is plain JSON ([ts, value]); time comes from the samples, never the clock
        if state is None:
            return [ts, value], None
        last_ts, last = state
        if ts - last_ts < self.min_gap:
            return state, None
        return [ts, value], (value - last) / (ts - last_ts)
