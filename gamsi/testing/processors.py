"""Contract checks for stream processors: timelines, as Alertmanager's acceptance tests read.

A processor is pure: ``derive(state, ts, value) -> (state, derived | None)`` with
time taken from the samples. A timeline test feeds ``[(t, value), ...]`` and
compares the derived values, with no clock and no broker::

    out = timeline("rate_of_change", [(0, 10.0), (10, 30.0)])
    assert out == [(0, None), (10, 2.0)]

Between steps the state goes through an orjson round trip, as it does through the
Faust changelog table when a worker restarts, so state that is not plain JSON
(a tuple, a set, an object) fails here rather than after a rebalance.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import orjson

from gamsi.streams.policy.values import Reader, join
from gamsi.streams.rules.registry import REGISTRY, StreamProcessor


def build_processor(
    plugin: str | type[StreamProcessor], params: dict[str, Any] | None = None
) -> StreamProcessor:
    """An instance, by registered name or class, with ``params`` validated as a policy would."""
    cls = REGISTRY.load()[plugin] if isinstance(plugin, str) else plugin
    return cls(Reader("<test>"), dict(params or {}), join("processors", cls.name))


def timeline(
    plugin: str | type[StreamProcessor] | StreamProcessor,
    points: Iterable[tuple[float, float]],
    params: dict[str, Any] | None = None,
) -> list[tuple[float, float | None]]:
    """``[(t, derived or None), ...]`` for the samples ``points`` (event time ``t`` in s).

    Raises ``AssertionError`` when the state does not survive a JSON round trip or a
    derived value is neither None nor a finite number.
    """
    proc = plugin if isinstance(plugin, StreamProcessor) else build_processor(plugin, params)
    state: Any = None
    out: list[tuple[float, float | None]] = []
    for t, value in points:
        state, derived = proc.derive(state, float(t), float(value))
        try:
            restored = orjson.loads(orjson.dumps(state))
        except TypeError as exc:
            raise AssertionError(f"t={t}: state is not plain JSON: {exc}") from None
        if restored != state:
            raise AssertionError(f"t={t}: state changes in a JSON round trip: {state!r}")
        state = restored
        if derived is not None and (
            isinstance(derived, bool)
            or not isinstance(derived, int | float)
            or not math.isfinite(derived)
        ):
            raise AssertionError(f"t={t}: expected None or a finite number, got {derived!r}")
        out.append((t, derived))
    return out


def check_processor(
    plugin: str | type[StreamProcessor],
    points: list[tuple[float, float]],
    params: dict[str, Any] | None = None,
) -> list[tuple[float, float | None]]:
    """Check the declaration and that the same timeline twice gives the same answers.

    Declaration: ``name`` (set by ``@register``), ``input`` and ``output`` are dotted
    item names and ``output`` differs from ``input``. Two fresh instances fed the
    same ``points`` must agree (no wall clock, no state outside ``state``). Returns
    the timeline.
    """
    proc = build_processor(plugin, params)
    cls = type(proc)
    for attr in ("name", "input", "output"):
        if not isinstance(getattr(cls, attr, None), str) or not getattr(cls, attr):
            raise AssertionError(f"{cls.__qualname__}.{attr}: expected a non-empty string")
    if "." not in cls.input or "." not in cls.output or cls.input == cls.output:
        raise AssertionError(
            f"{cls.name}: expected dotted item names with output != input, "
            f"got {cls.input!r} -> {cls.output!r}"
        )
    first = timeline(proc, points)
    again = timeline(build_processor(plugin, params), points)
    if first != again:
        raise AssertionError(f"{cls.name}: the same timeline gave {first} then {again}")
    return first
