"""CPU time split into busy, user, system, iowait and steal, total and per core.

Percentages come from deltas of the kernel's cumulative CPU times between two
ticks, the way psutil's ``cpu_percent`` and node_exporter's ``rate(node_cpu)``
do: busy is everything except idle and iowait (iowait is idle time spent waiting
for disks). The total is the sum of the fields that do not overlap: on Linux the
kernel counts a virtual machine's time both in ``guest`` and in ``user`` (and
``guest_nice`` inside ``nice``; kernel/sched/cputime.c, ``account_guest_time``,
and proc(5)), so guest time is part of ``user`` here and never added or
subtracted again. ``cpu.user`` therefore includes the VMs a host runs.

The fields of one reading (all cores, or one core) form one counter group
(:mod:`gamsi.collector.rates`): if any of them went backwards, that CPU reports
nothing on that tick and the next tick measures from the new reading. The
first tick after start has no previous reading and emits nothing.
"""

from __future__ import annotations

from gamsi.collector.rates import CounterTracker, Deltas
from gamsi.collector.registry import Input, register
from gamsi.collector.stats import CpuTimes
from gamsi.schemas.records import Sample

# The fields whose sum is all CPU time: CpuTimes minus guest and guest_nice,
# which are already inside user and nice.
TOTAL_FIELDS = ("user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal")
_NOT_BUSY = ("idle", "iowait")
_SHARES = (
    ("cpu.user", "user"),
    ("cpu.system", "system"),
    ("cpu.iowait", "iowait"),
    ("cpu.steal", "steal"),
)


def shares(d: Deltas) -> dict[str, float] | None:
    """Percentages of CPU time over one tick, by item, or None if no CPU time passed.

    ``d`` holds the increases of a :class:`CpuTimes` group in seconds. Result:
    ``cpu.util`` (busy %) and ``cpu.user`` / ``cpu.system`` / ``cpu.iowait`` /
    ``cpu.steal`` for the fields the platform has; every value is in [0, 100].
    """
    inc = d.increases
    total = sum(inc.get(f, 0.0) for f in TOTAL_FIELDS)
    if total <= 0:
        return None
    busy = total - sum(inc.get(f, 0.0) for f in _NOT_BUSY)
    out = {"cpu.util": busy / total * 100.0}
    for item, field in _SHARES:
        if field in inc:
            out[item] = inc[field] / total * 100.0
    return out


def busy_pct(prev: CpuTimes, cur: CpuTimes) -> float | None:
    """Busy % between two readings, or None if no CPU time passed or any field went back."""
    tracker = CounterTracker()
    tracker.deltas("cpu", prev._asdict(), 0.0)
    d = tracker.deltas("cpu", cur._asdict(), 1.0)
    result = None if d is None else shares(d)
    return None if result is None else result["cpu.util"]


@register("cpu")
class CpuInput(Input):
    def init(self) -> None:
        self._counters = CounterTracker()
        self._cores = 0

    def collect(self, now: float) -> list[Sample]:
        cur = self.stats.cpu_times()
        cores = self.stats.cpu_times_per_core()
        samples: list[Sample] = []
        d = self._counters.deltas("all", cur._asdict(), now)
        result = None if d is None else shares(d)
        if result is not None:
            samples.extend(Sample(item, value) for item, value in result.items())
        if len(cores) != self._cores:  # a CPU brought online/offline: indexes shift
            self._counters.forget({("core", i) for i in range(max(self._cores, len(cores)))})
            self._cores = len(cores)
        for i, c in enumerate(cores):
            d = self._counters.deltas(("core", i), c._asdict(), now)
            result = None if d is None else shares(d)
            if result is not None:
                samples.append(Sample("cpu.core.util", result["cpu.util"], str(i)))
        return samples
