"""CPU time split into busy, user, system, iowait and steal, total and per core.

Percentages come from deltas of the kernel's cumulative CPU times between two
ticks, the way psutil's ``cpu_percent`` and node_exporter's ``rate(node_cpu)``
do: busy is everything except idle and iowait (iowait is idle time spent waiting
for disks). On Linux guest time is already inside user/nice and is not counted
twice. The first tick after start has no previous reading and emits nothing.
"""

from __future__ import annotations

from gamsi.collector.registry import Input, register
from gamsi.collector.stats import CpuTimes
from gamsi.schemas.records import Sample


def _total(t: CpuTimes) -> float:
    return (
        t.user
        + t.system
        + t.idle
        + t.nice
        + (t.iowait or 0.0)
        + t.irq
        + t.softirq
        + (t.steal or 0.0)
        - t.guest
        - t.guest_nice
    )


def _busy(t: CpuTimes) -> float:
    return _total(t) - t.idle - (t.iowait or 0.0)


def busy_pct(prev: CpuTimes, cur: CpuTimes) -> float | None:
    """Busy % between two readings, or None if no time passed (or the counters reset)."""
    elapsed = _total(cur) - _total(prev)
    if elapsed <= 0:
        return None
    return min(100.0, max(0.0, (_busy(cur) - _busy(prev)) / elapsed * 100.0))


def _share(prev: float | None, cur: float | None, elapsed: float) -> float | None:
    if prev is None or cur is None:
        return None
    return min(100.0, max(0.0, (cur - prev) / elapsed * 100.0))


@register("cpu")
class CpuInput(Input):
    def init(self) -> None:
        self._prev: CpuTimes | None = None
        self._prev_cores: list[CpuTimes] = []

    def collect(self, now: float) -> list[Sample]:
        cur = self.stats.cpu_times()
        cores = self.stats.cpu_times_per_core()
        prev, prev_cores = self._prev, self._prev_cores
        self._prev, self._prev_cores = cur, cores
        samples: list[Sample] = []
        if prev is not None:
            elapsed = _total(cur) - _total(prev)
            util = busy_pct(prev, cur)
            if util is not None:
                samples.append(Sample("cpu.util", util))
                for item, field in (
                    ("cpu.user", "user"),
                    ("cpu.system", "system"),
                    ("cpu.iowait", "iowait"),
                    ("cpu.steal", "steal"),
                ):
                    share = _share(getattr(prev, field), getattr(cur, field), elapsed)
                    if share is not None:
                        samples.append(Sample(item, share))
        if len(prev_cores) == len(cores):  # a CPU brought online/offline restarts per-core
            for i, (p, c) in enumerate(zip(prev_cores, cores, strict=True)):
                core = busy_pct(p, c)
                if core is not None:
                    samples.append(Sample("cpu.core.util", core, str(i)))
        return samples
