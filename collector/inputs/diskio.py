"""Block device throughput, operations, busy % and average wait (instance = device).

All from cumulative kernel counters turned into per-second rates by
:class:`~gamsi.collector.rates.RateTracker` (nothing on the first tick; a counter
that goes backwards restarts the baseline). ``busy_pct`` is the share of wall
time the device had I/O in flight (iostat's %util); ``await_ms`` is the average
time a completed request took, queueing included (iostat's await), 0 when idle.
Partitions, loop and RAM devices are skipped by ``diskio_exclude``.
"""

from __future__ import annotations

import re

from gamsi.collector.rates import RateTracker
from gamsi.collector.registry import Input, register
from gamsi.schemas.records import Sample

_RATES = (
    ("diskio.read_bytes_per_s", "read_bytes"),
    ("diskio.write_bytes_per_s", "write_bytes"),
    ("diskio.reads_per_s", "read_count"),
    ("diskio.writes_per_s", "write_count"),
)


def _await_ms(deltas: dict[str, tuple[float, float] | None]) -> float | None:
    """Milliseconds per completed request over the tick (0 when none completed)."""
    reads, writes = deltas["read_count"], deltas["write_count"]
    rtime, wtime = deltas["read_time_ms"], deltas["write_time_ms"]
    if reads is None or writes is None or rtime is None or wtime is None:
        return None
    ops = reads[0] + writes[0]
    return (rtime[0] + wtime[0]) / ops if ops else 0.0


@register("diskio")
class DiskIOInput(Input):
    def init(self) -> None:
        self._exclude = re.compile(self.config.diskio_exclude)
        self._rates = RateTracker()

    def collect(self, now: float) -> list[Sample]:
        samples: list[Sample] = []
        keys: set[object] = set()
        for dev, c in self.stats.disk_io().items():
            if self._exclude.match(dev):
                continue
            values = c._asdict()
            deltas: dict[str, tuple[float, float] | None] = {}
            for field in (*(f for _, f in _RATES), "read_time_ms", "write_time_ms", "busy_time_ms"):
                if values[field] is None:
                    continue
                keys.add((dev, field))
                deltas[field] = self._rates.delta((dev, field), values[field], now)
            for item, field in _RATES:
                d = deltas[field]
                if d is not None:
                    samples.append(Sample(item, d[0] / d[1], dev))
            busy = deltas.get("busy_time_ms")
            if busy is not None:
                samples.append(Sample("diskio.busy_pct", min(100.0, busy[0] / busy[1] / 10.0), dev))
            await_ms = _await_ms(deltas)
            if await_ms is not None:
                samples.append(Sample("diskio.await_ms", await_ms, dev))
        self._rates.forget_except(keys)
        return samples
