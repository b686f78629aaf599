"""Fold a sliding window of values into one: avg, min or max (Zabbix ``avg(/item,5m)``).

The window is ``(t - window, t]`` in event time. Its value is judged like a raw
value (thresholds, duration, count), with one rule of evidence: it may **raise or
escalate** only while its samples cover (nearly) the whole window — see
:func:`covered`. A gap in the data (more than 3 collection intervals), a clock step
and a new series empty the window, so an average over one sample after a reboot
is never read as "the 5-minute average". De-escalation and recovery need no full
window: they wait for the watch's ``clear`` time instead.
"""

from __future__ import annotations

from collections.abc import Callable

from gamsi.streams.state import Window

COVERAGE = 0.9
"""Share of the window the samples must span (plus one interval) before a raise."""


def _avg(values: list[float]) -> float:
    return sum(values) / len(values)


FOLDS: dict[str, Callable[[list[float]], float]] = {"avg": _avg, "min": min, "max": max}


def push(
    agg: Window, t: float, value: float, window: float, fold: Callable[[list[float]], float]
) -> float:
    """Add one sample, drop those older than the window, return the folded value."""
    times, values = agg.times, agg.values
    times.append(t)
    values.append(value)
    cutoff = t - window
    n = len(times) - 1  # the sample just added always stays, whatever the arithmetic says
    drop = 0
    while drop < n and times[drop] <= cutoff:
        drop += 1
    if drop:
        del times[:drop], values[:drop]
    return fold(values)


def covered(agg: Window, t: float, window: float, interval: float) -> bool:
    """Do the samples span at least :data:`COVERAGE` of the window?

    The oldest sample stands for the interval before it, so with a 10 s interval a
    5-minute window is covered from the 27th sample of an unbroken series on.
    """
    return t - agg.times[0] + interval >= COVERAGE * window
