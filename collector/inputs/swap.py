"""Swap space used. A host without swap reports 0 % used and 0 bytes total."""

from __future__ import annotations

from gamsi.collector.registry import Input, register
from gamsi.schemas.records import Sample


@register("swap")
class SwapInput(Input):
    def collect(self, now: float) -> list[Sample]:
        s = self.stats.swap()
        return [
            Sample("swap.used_pct", s.used / s.total * 100.0 if s.total else 0.0),
            Sample("swap.used_bytes", float(s.used)),
            Sample("swap.total_bytes", float(s.total)),
        ]
