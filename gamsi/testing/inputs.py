"""Contract checks for collector inputs: replay frames captured from a real host.

Inputs never call psutil; they ask a :class:`~gamsi.collector.stats.SystemStats`.
:class:`~gamsi.collector.replay.ReplayStats` answers from a snapshot file
(``gamsi collector capture FILE`` records one on any host), so an input's test
runs the same everywhere, like go.d's replays of captured ``testdata/``. One
snapshot of a Linux VM ships here (:func:`linux_vm`)::

    ticks = replay_input("app_queue", linux_vm())   # one list of samples per frame
    check_samples(ticks[-1])

An input that needs something other than what a snapshot records (a file, a
socket) reads it through its own seam and is given a fake of that in its test.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Iterator
from importlib.resources import files
from pathlib import Path

from gamsi.collector.config import CollectorSettings
from gamsi.collector.registry import REGISTRY, Input
from gamsi.collector.replay import ReplayStats
from gamsi.schemas.records import Sample

ITEM_NAME = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$")
"""Item names are dotted lower-case words (``app.queue_depth``), as in docs/items.md."""


def linux_vm() -> ReplayStats:
    """Three frames a second apart from a real Linux VM (2 cores, ext4, eth0, a java process)."""
    return ReplayStats.load(Path(str(files("gamsi.testing").joinpath("fixtures/linux-vm.json"))))


def replay_input(
    plugin: str | type[Input],
    stats: ReplayStats,
    settings: CollectorSettings | None = None,
    ticks: int | None = None,
) -> list[list[Sample]]:
    """Build one input (by registered name, or its class), collect once per frame, close it.

    ``ticks`` defaults to every frame left in ``stats``; ``now`` passed to ``collect``
    is each frame's capture time, so rates see the real deltas. Errors from
    ``init()`` and ``collect()`` propagate (the agent contains them; a test should
    see them). ``settings`` defaults to ``CollectorSettings(inputs=[name])``.
    """
    cls = REGISTRY.load()[plugin] if isinstance(plugin, str) else plugin
    config = settings if settings is not None else CollectorSettings(inputs=[cls.name])
    inp = cls(stats, config)
    inp.init()
    try:
        return [inp.collect(now) for now in frame_times(stats, ticks)]
    finally:
        inp.close()


def frame_times(stats: ReplayStats, ticks: int | None = None) -> Iterator[float]:
    """Step ``stats`` through ``ticks`` frames (default: all left), yielding each one's time.

    The first value is the current frame's; ``stats`` advances before each next one,
    so a loop body sees the frame whose time it got (rates divide by their deltas).
    """
    for i in range(len(stats.frames) - stats.index if ticks is None else ticks):
        if i:
            stats.advance()
        yield stats.t


def check_samples(samples: Iterable[Sample]) -> None:
    """Assert each sample is well formed and each (item, instance) appears once per tick.

    Well formed: a :class:`~gamsi.schemas.records.Sample` with a dotted lower-case item
    name, a finite float value and a string instance.
    """
    seen: set[tuple[str, str]] = set()
    for s in samples:
        if not isinstance(s, Sample):
            raise AssertionError(f"expected Sample objects, got {s!r}")
        if not ITEM_NAME.match(s.item):
            raise AssertionError(f"{s.item!r}: expected a dotted lower-case item name")
        if not isinstance(s.value, float) or not math.isfinite(s.value):
            raise AssertionError(f"{s.item}: expected a finite float value, got {s.value!r}")
        if not isinstance(s.instance, str):
            raise AssertionError(f"{s.item}: expected a string instance, got {s.instance!r}")
        key = (s.item, s.instance)
        if key in seen:
            raise AssertionError(f"{s.item} [{s.instance}]: reported twice in one tick")
        seen.add(key)
