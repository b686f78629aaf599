"""Clock synchronisation as the kernel sees it (Linux adjtimex; nothing elsewhere).

``clock.synced`` is 1 when an NTP daemon disciplines the clock and 0 when the
kernel says it is unsynchronised: a host whose clock drifts stamps its batches
wrong, and duration rules then misjudge. ``clock.offset_s`` is the offset the
kernel is still correcting and ``clock.maxerror_s`` its bound on the error.
"""

from __future__ import annotations

from gamsi.collector.registry import Input, register
from gamsi.schemas.records import Sample


@register("clock")
class ClockInput(Input):
    def collect(self, now: float) -> list[Sample]:
        c = self.stats.clock()
        if c is None:
            return []
        return [
            Sample("clock.synced", 1.0 if c.synced else 0.0),
            Sample("clock.offset_s", c.offset_s),
            Sample("clock.maxerror_s", c.maxerror_s),
        ]
