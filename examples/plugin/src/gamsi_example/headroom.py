# examples/plugin/src/gamsi_example/headroom.py
"""Memory headroom: what the host can still hand out before something gets killed."""

from gamsi.collector.registry import Input, register
from gamsi.schemas.records import Sample


@register("headroom")
class Headroom(Input):
    """``memory.headroom_bytes``: available RAM plus free swap (bytes)."""

    def collect(self, now: float) -> list[Sample]:
        memory, swap = self.stats.memory(), self.stats.swap()
        free_swap = max(swap.total - swap.used, 0)
        return [Sample("memory.headroom_bytes", float(memory.available + free_swap))]
