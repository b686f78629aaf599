"""Bounds on what one sender can make a stream worker do, checked before the engine runs.

A batch is refused — dead-lettered with the reason, counted, never applied — when
its time is impossible on the worker's clock (not finite, or further ahead than
``max_future``), when it carries more samples than ``max_samples_per_batch``, or
more instances of one item than ``max_instances_per_item``. After the engine ran,
a host whose state would weigh more than ``max_state_bytes`` on the changelog is
refused the same way and judged afresh (see gamsi.streams.app). The values are
settings of the ``[streams]`` section; the defaults leave a large server (hundreds
of mounts, NICs and processes) far inside them and keep one changelog record far
below Kafka's 1 MB message limit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from gamsi.schemas.records import MetricBatch


@dataclass(frozen=True, slots=True)
class Limits:
    max_future: float = 300.0
    """Seconds a batch's ts may be ahead of the worker's clock."""
    max_samples_per_batch: int = 20_000
    max_instances_per_item: int = 2_000
    max_state_bytes: int = 262_144
    """Bytes of one host's state on the changelog."""

    @classmethod
    def of(cls, streams: object) -> Limits:
        """The limits of a ``[streams]`` settings section (defaults for missing fields)."""
        names = ("max_future", "max_samples_per_batch", "max_instances_per_item")
        names += ("max_state_bytes",)
        return cls(**{n: getattr(streams, n) for n in names if hasattr(streams, n)})


def check_batch(batch: MetricBatch, now: float, limits: Limits) -> str | None:
    """Why ``batch`` must be refused on a worker whose clock reads ``now``, or None."""
    ts = batch.ts
    if not math.isfinite(ts):
        return f"batch ts {ts!r} is not a finite time"
    if ts > now + limits.max_future:
        return (
            f"batch ts {ts:.3f} is {ts - now:.0f} s ahead of this worker's clock "
            f"(max_future = {limits.max_future:g} s)"
        )
    n = len(batch.samples)
    if n > limits.max_samples_per_batch:
        return f"batch has {n} samples (max_samples_per_batch = {limits.max_samples_per_batch})"
    cap = limits.max_instances_per_item
    if n <= cap:
        return None  # cannot hold more instances of one item than samples
    per_item: dict[str, set[str]] = {}
    for s in batch.samples:
        seen = per_item.get(s.item)
        if seen is None:
            seen = per_item[s.item] = set()
        seen.add(s.instance)
        if len(seen) > cap:
            return f"item {s.item} has more than {cap} instances (max_instances_per_item)"
    return None
