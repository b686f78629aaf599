"""Network traffic, packets, errors and drops per interface (instance = NIC name).

Per-second rates of the kernel's cumulative counters: nothing on the first tick,
and a counter that goes backwards (a driver reload) restarts the baseline rather
than producing a spike. Throughput is in bits per second, the unit links are
sold in. Interfaces matching ``net_exclude`` (loopback by default) are skipped.
"""

from __future__ import annotations

from fnmatch import fnmatchcase

from gamsi.collector.rates import RateTracker
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
        self._rates = RateTracker()

    def collect(self, now: float) -> list[Sample]:
        samples: list[Sample] = []
        keys: set[object] = set()
        for nic, c in self.stats.net_io().items():
            if any(fnmatchcase(nic, pattern) for pattern in self.config.net_exclude):
                continue
            for item, field, factor in _RATES:
                key = (nic, field)
                keys.add(key)
                rate = self._rates.rate(key, getattr(c, field), now)
                if rate is not None:
                    samples.append(Sample(item, rate * factor, nic))
        self._rates.forget_except(keys)
        return samples
