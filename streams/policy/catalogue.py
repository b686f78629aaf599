"""The items a watch can name: what the collector reports, and what the policy derives.

:data:`COLLECTOR_ITEMS` is the machine-readable list of every item the built-in
collector inputs report; docs/items.md documents the same list with units and
meanings, and ``tests/unit/streams/policy/test_catalogue.py`` keeps the three in
step (the docs' table, this list, and what each input emits on the captured host
fixtures). An input from another package adds its items by declaring them on its
class (``items: ClassVar[tuple[str, ...]]``), which :func:`known_items` reads from
the collector's registry.

A watch on any other item is not an error (a custom ``commands`` item, a new input),
but it can never fire unless some host reports it: ``gamsi policy validate`` and
``apply`` warn about such items (:mod:`gamsi.streams.policy.checks`).
"""

from __future__ import annotations

from collections.abc import Iterable

from gamsi.streams.policy.model import HEARTBEAT_ITEM, Policy

COLLECTOR_ITEMS = frozenset(
    {
        # cpu
        "cpu.util", "cpu.user", "cpu.system", "cpu.iowait", "cpu.steal", "cpu.core.util",
        # load
        "load.1", "load.5", "load.15", "load.per_core",
        # memory, swap
        "memory.used_pct", "memory.available_bytes", "memory.total_bytes",
        "swap.used_pct", "swap.used_bytes", "swap.total_bytes",
        # disk
        "disk.used_pct", "disk.free_bytes", "disk.total_bytes", "disk.inodes_used_pct",
        # diskio
        "diskio.read_bytes_per_s", "diskio.write_bytes_per_s", "diskio.reads_per_s",
        "diskio.writes_per_s", "diskio.busy_pct", "diskio.await_ms",
        # net
        "net.rx_bits_per_s", "net.tx_bits_per_s", "net.rx_packets_per_s",
        "net.tx_packets_per_s", "net.rx_errors_per_s", "net.tx_errors_per_s",
        "net.rx_drops_per_s", "net.tx_drops_per_s",
        # proc, fd, system, clock
        "proc.count", "proc.up", "proc.instances", "proc.cpu_pct", "proc.rss_bytes",
        "fd.open", "fd.used_pct", "system.uptime_s",
        "clock.synced", "clock.offset_s", "clock.maxerror_s",
        # the agent itself
        "collector.spool_dropped", "collector.spool_pending", "collector.spool_bytes",
    }
)  # fmt: skip
"""Every item the built-in collector inputs report (docs/items.md's table)."""


def declared_input_items() -> frozenset[str]:
    """Items declared (``items`` class attribute) by registered collector inputs, if any."""
    try:
        from gamsi.collector.registry import load_inputs

        inputs = load_inputs()
    except Exception:  # a broken third-party input must not break policy validation
        return frozenset()
    return frozenset(
        item
        for cls in inputs.values()
        for item in getattr(cls, "items", ()) or ()
        if isinstance(item, str)
    )


def processor_outputs() -> dict[str, str]:
    """Derived item → the processor that makes it, for every registered processor."""
    from gamsi.streams.rules.registry import load_processors

    return {cls.output: name for name, cls in load_processors().items()}


def known_items(policy: Policy, extra: Iterable[str] = ()) -> frozenset[str]:
    """Items some part of Gamsi produces for ``policy``: the collector's catalogue, the
    heartbeat, the outputs of the processors the policy enables, and ``extra``."""
    derived = processor_outputs()
    enabled = {item for item, name in derived.items() if name in policy.processors}
    return COLLECTOR_ITEMS | declared_input_items() | {HEARTBEAT_ITEM} | enabled | set(extra)
