"""Uptime: seconds since boot. A value smaller than the last one means a reboot."""

from __future__ import annotations

import time

from gamsi.collector.registry import Input, register
from gamsi.schemas.records import Sample


@register("system")
class SystemInput(Input):
    def collect(self, now: float) -> list[Sample]:
        return [Sample("system.uptime_s", max(0.0, time.time() - self.stats.boot_time()))]
