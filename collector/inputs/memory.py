"""Physical memory: used % and bytes available to start new programs without swapping.

"Used" is total minus available (the kernel's MemAvailable estimate), so page
cache that can be dropped does not count as used: the same figure as ``free``'s
available column and Zabbix's ``vm.memory.utilization``.
"""

from __future__ import annotations

from gamsi.collector.registry import Input, register
from gamsi.schemas.records import Sample


@register("memory")
class MemoryInput(Input):
    def collect(self, now: float) -> list[Sample]:
        m = self.stats.memory()
        used_pct = (m.total - m.available) / m.total * 100.0 if m.total else 0.0
        return [
            Sample("memory.used_pct", used_pct),
            Sample("memory.available_bytes", float(m.available)),
            Sample("memory.total_bytes", float(m.total)),
        ]
