"""Run-queue load averages, and load per core (the number a threshold can use on any host).

On Windows psutil emulates the load average from the processor queue length;
its first values after start are 0 until it has sampled for a while.
"""

from __future__ import annotations

from gamsi.collector.registry import Input, register
from gamsi.schemas.records import Sample


@register("load")
class LoadInput(Input):
    def collect(self, now: float) -> list[Sample]:
        one, five, fifteen = self.stats.load_avg()
        ncpu = max(1, self.stats.cpu_count())
        return [
            Sample("load.1", one),
            Sample("load.5", five),
            Sample("load.15", fifteen),
            Sample("load.per_core", one / ncpu),
        ]
