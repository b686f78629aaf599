"""Fold a sliding window of values into one: avg, min or max (Zabbix ``avg(/item,5m)``).

The window is ``(t - window, t]`` in event time, and it holds whatever samples
arrived in it: right after a start it averages what it has (like Prometheus'
``avg_over_time``). The aggregated value then goes through thresholds, duration
and count exactly like a raw value would.
"""

from __future__ import annotations

from collections.abc import Callable


def _avg(values: list[float]) -> float:
    return sum(values) / len(values)


FOLDS: dict[str, Callable[[list[float]], float]] = {"avg": _avg, "min": min, "max": max}


def new_window() -> list[list[float]]:
    return [[], []]


def push(
    agg: list[list[float]],
    t: float,
    value: float,
    window: float,
    fold: Callable[[list[float]], float],
) -> float:
    """Add one sample, drop those older than the window, return the folded value."""
    times, values = agg
    times.append(t)
    values.append(value)
    cutoff = t - window
    drop = 0
    while times[drop] <= cutoff:
        drop += 1
    if drop:
        del times[:drop], values[:drop]
    return fold(values)


def clear(agg: list[list[float]]) -> None:
    agg[0].clear()
    agg[1].clear()
