"""Process count, and the watched processes: up/down, CPU and memory per name.

``processes`` in the settings names the programs that must run (``sshd``,
``postgres``). Each gets ``proc.up`` 1 or 0 every tick, so a watch can raise the
moment it disappears, plus ``proc.instances``, ``proc.cpu_pct`` (all its
processes together, 100 = one core) and ``proc.rss_bytes``. The process table
is only walked when a name is watched: that walk is the costliest read here.
"""

from __future__ import annotations

from gamsi.collector.rates import RateTracker
from gamsi.collector.registry import Input, register
from gamsi.schemas.records import Sample


@register("proc")
class ProcInput(Input):
    def init(self) -> None:
        self._rates = RateTracker()

    def collect(self, now: float) -> list[Sample]:
        samples = [Sample("proc.count", float(self.stats.pid_count()))]
        watched = self.config.processes
        if not watched:
            return samples
        count = dict.fromkeys(watched, 0)
        cpu = dict.fromkeys(watched, 0.0)
        rss = dict.fromkeys(watched, 0)
        for p in self.stats.processes():
            if p.name in count:
                count[p.name] += 1
                cpu[p.name] += p.cpu_seconds
                rss[p.name] += p.rss
        for name in watched:
            samples.append(Sample("proc.up", 1.0 if count[name] else 0.0, name))
            samples.append(Sample("proc.instances", float(count[name]), name))
            samples.append(Sample("proc.rss_bytes", float(rss[name]), name))
            # A restarted process brings its CPU seconds back near 0: the tracker
            # treats that as a reset and skips one tick rather than going negative.
            rate = self._rates.rate(name, cpu[name], now)
            if rate is not None:
                samples.append(Sample("proc.cpu_pct", rate * 100.0, name))
        return samples
