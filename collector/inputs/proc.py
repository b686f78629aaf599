"""Process count, and the watched processes: up/down, CPU and memory per name.

``processes`` in the settings names the programs that must run (``sshd``,
``postgres``). Each gets ``proc.up`` 1 or 0 every tick, so a watch can raise the
moment it disappears, plus ``proc.instances``, ``proc.cpu_pct`` (all its
processes together, 100 = one core) and ``proc.rss_bytes``. The process table
is only walked when a name is watched: that walk is the costliest read here.

``proc.cpu_pct`` is derived from one CPU-seconds counter per process, so it is
the sum of the increases of the processes that ran at both readings (same pid
and start time), the way top and psutil's ``Process.cpu_percent`` measure: a
process that exited takes its past CPU seconds with it and a new one brings
its own, and neither may turn into a false drop or spike. A counter that went
backwards (a reused pid on a platform without start times) counts as a new
process. When none of the name's processes ran at both readings (the program
was just restarted), there is no sample that tick; when none runs, it is 0.
"""

from __future__ import annotations

from collections.abc import Hashable

from gamsi.collector.rates import RateTracker
from gamsi.collector.registry import Input, register
from gamsi.schemas.records import Sample


@register("proc")
class ProcInput(Input):
    def init(self) -> None:
        self._rates = RateTracker()
        self._read: set[str] = set()  # names with a reading at the previous tick

    def collect(self, now: float) -> list[Sample]:
        samples = [Sample("proc.count", float(self.stats.pid_count()))]
        watched = self.config.processes
        if not watched:
            return samples
        count = dict.fromkeys(watched, 0)
        rss = dict.fromkeys(watched, 0)
        # One counter per process; processes without an identity sum into one per name.
        cpu: dict[str, dict[Hashable, float]] = {name: {} for name in watched}
        for p in self.stats.processes():
            if p.name in count:
                count[p.name] += 1
                rss[p.name] += p.rss
                key = (p.name, p.pid, p.started)
                cpu[p.name][key] = cpu[p.name].get(key, 0.0) + p.cpu_seconds
        seen: set[Hashable] = set()
        for name in watched:
            samples.append(Sample("proc.up", 1.0 if count[name] else 0.0, name))
            samples.append(Sample("proc.instances", float(count[name]), name))
            samples.append(Sample("proc.rss_bytes", float(rss[name]), name))
            rate = self._cpu_rate(cpu[name], now)
            if name in self._read and (rate is not None or not count[name]):
                samples.append(Sample("proc.cpu_pct", (rate or 0.0) * 100.0, name))
            seen.update(cpu[name])
        self._rates.forget_except(seen)
        self._read = set(watched)
        return samples

    def _cpu_rate(self, counters: dict[Hashable, float], now: float) -> float | None:
        """CPU seconds per second of the processes seen at both readings (None: none was)."""
        total: float | None = None
        for key, seconds in counters.items():
            rate = self._rates.rate(key, seconds, now)
            if rate is not None:
                total = (total or 0.0) + rate
        return total
