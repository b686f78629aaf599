"""Block device throughput, operations, busy % and average wait (instance = device).

All from cumulative kernel counters, read as one counter group per device
(:class:`~gamsi.collector.rates.CounterTracker`): nothing on the first tick, and
if any counter of a device went backwards (the device was replaced, the driver
reloaded) the device reports nothing on that tick and restarts its baseline.
``busy_pct`` is the share of wall time the device had I/O in flight (iostat's
%util); ``await_ms`` is the average time a completed request took, queueing
included (iostat's await), 0 when idle. Partitions, loop and RAM devices are
skipped by ``diskio_exclude``.
"""

from __future__ import annotations

import re

from gamsi.collector.rates import CounterTracker
from gamsi.collector.registry import Input, register
from gamsi.schemas.records import Sample

_RATES = (
    ("diskio.read_bytes_per_s", "read_bytes"),
    ("diskio.write_bytes_per_s", "write_bytes"),
    ("diskio.reads_per_s", "read_count"),
    ("diskio.writes_per_s", "write_count"),
)


def _await_ms(inc: dict[str, float]) -> float:
    """Milliseconds per completed request over the tick (0 when none completed)."""
    ops = inc["read_count"] + inc["write_count"]
    return (inc["read_time_ms"] + inc["write_time_ms"]) / ops if ops else 0.0


@register("diskio")
class DiskIOInput(Input):
    def init(self) -> None:
        self._exclude = re.compile(self.config.diskio_exclude)
        self._counters = CounterTracker()

    def collect(self, now: float) -> list[Sample]:
        samples: list[Sample] = []
        seen: set[object] = set()
        for dev, c in self.stats.disk_io().items():
            if self._exclude.match(dev):
                continue
            seen.add(dev)
            d = self._counters.deltas(dev, c._asdict(), now)
            if d is None:
                continue
            inc = d.increases
            samples.extend(Sample(item, inc[field] / d.elapsed, dev) for item, field in _RATES)
            if "busy_time_ms" in inc:
                # Only timing jitter between the kernel's clock and ours can pass 100 %
                # (a reset never gets here); iostat caps %util at 100 the same way.
                busy = min(100.0, inc["busy_time_ms"] / d.elapsed / 10.0)
                samples.append(Sample("diskio.busy_pct", busy, dev))
            samples.append(Sample("diskio.await_ms", _await_ms(inc), dev))
        self._counters.forget_except(seen)
        return samples
