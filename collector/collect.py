"""One collection: every configured input, each failure contained to its input.

An input that raises is logged (once, until it works again) and contributes no
samples that tick; the other inputs still report. A monitoring agent that dies
because one mount went stale is worse than one missing item.
"""

from __future__ import annotations

from gamsi.collector.registry import Input, build_inputs
from gamsi.collector.stats import SystemStats
from gamsi.schemas.records import Sample
from gamsi.settings import CollectorSettings


def default_stats(host_root: str = "") -> SystemStats:
    """The live host (imports psutil only when a real collection is wanted); ``host_root``
    reads a host whose / is mounted there (see :mod:`gamsi.collector.hostroot`)."""
    from gamsi.collector.psutil_stats import PsutilStats

    return PsutilStats(host_root)


class Collector:
    """Owns the inputs' lifecycle: :meth:`open` (init all), :meth:`collect`, :meth:`close`."""

    def __init__(self, config: CollectorSettings, stats: SystemStats | None = None) -> None:
        self.config = config
        self.stats = stats if stats is not None else default_stats(config.host_root)
        self.inputs: list[Input] = []

    def open(self) -> Collector:
        self.inputs = build_inputs(self.config.inputs, self.stats, self.config)
        return self

    def collect(self, now: float) -> list[Sample]:
        samples: list[Sample] = []
        for inp in self.inputs:
            try:
                samples.extend(inp.collect(now))
            except Exception as exc:  # contained: one broken input never stops the agent
                inp.warn_once("collect", f"failed: {type(exc).__name__}: {exc}")
            else:
                inp.recovered("collect")
        return samples

    def close(self) -> None:
        for inp in self.inputs:
            inp.close()
        self.inputs = []
