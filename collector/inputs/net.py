"""Network traffic, packets, errors and drops per interface (instance = NIC name).

Per-second rates of the kernel's cumulative counters, read as one counter group
per NIC (:class:`~gamsi.collector.rates.CounterTracker`): nothing on the first
tick, and if any counter of a NIC went backwards (a driver reload resets them
all, but a counter that was small may already have grown past its old value)
the NIC reports nothing on that tick and restarts its baseline, rather than
producing a spike. Throughput is in bits per second, the unit links are sold
in. Interfaces matching ``net_exclude`` (loopback by default) are skipped.
"""

from __future__ import annotations

from fnmatch import fnmatchcase

from gamsi.collector.rates import CounterTracker
from gamsi.collector.registry import Input, register
from gamsi.schemas.records import Sample

# item, NetIO field, factor
_RATES = (
    ("net.rx_bits_per_s", "bytes_recv", 8.0),
    ("net.tx_bits_per_s", "bytes_sent", 8.0),
    ("net.rx_packets_per_s", "packets_recv", 1.0),
    ("net.tx_packets_per_s", "packets_sent", 1.0),
    ("net.rx_errors_per_s", "errin", 1.0),
    ("net.tx_errors_per_s", "errout", 1.0),
    ("net.rx_drops_per_s", "dropin", 1.0),
    ("net.tx_drops_per_s", "dropout", 1.0),
)


@register("net")
class NetInput(Input):
    def init(self) -> None:
        self._counters = CounterTracker()

    def collect(self, now: float) -> list[Sample]:
        samples: list[Sample] = []
        seen: set[object] = set()
        for nic, c in self.stats.net_io().items():
            if any(fnmatchcase(nic, pattern) for pattern in self.config.net_exclude):
                continue
            seen.add(nic)
            d = self._counters.deltas(nic, c._asdict(), now)
            if d is None:
                continue
            for item, field, factor in _RATES:
                samples.append(Sample(item, d.increases[field] / d.elapsed * factor, nic))
        self._counters.forget_except(seen)
        return samples
