"""The state machine of one (host, watch, instance): samples in, transitions out.

A :class:`Rule` is a watch compiled once: its thresholds, its mode (consecutive
runs, a counting window, or an aggregate) and the numbers it needs. ``update``
takes the series' state (a plain list, stored in the host's state dict), one
sample's event time and value, and returns ``(previous, new)`` severities when
the sample causes a transition. The common case, a normal value on a normal
series, returns after one comparison.

Series state: ``[severity, since, last_ts, clearing_since, runs_or_window,
aggregate, nodata]``; see docs/rules.md for the semantics.
"""

from __future__ import annotations

from gamsi.streams.policy.model import Watch
from gamsi.streams.rules import aggregate, duration, nodata, window
from gamsi.streams.rules.hysteresis import CLEARING, LAST, SINCE, decide
from gamsi.streams.rules.threshold import Thresholds

NEVER = -1e300
"""``last_ts`` of a series that has no sample yet (finite, so JSON keeps it)."""
RUNS, AGG, NODATA = 4, 5, 6


class Rule:
    """A compiled watch."""

    __slots__ = (
        "clear", "count", "duration", "fold", "levels", "mode", "name", "nodata", "sevs",
        "thresholds", "watch", "window",
    )  # fmt: skip

    def __init__(self, watch: Watch) -> None:
        self.watch = watch
        self.name = watch.name
        self.thresholds = Thresholds(watch)
        self.sevs = tuple(sorted(int(lv.severity) for lv in watch.levels))
        self.levels = {int(lv.severity): lv for lv in watch.levels}
        self.count = watch.count
        self.duration = watch.duration
        self.window = watch.window
        self.clear = watch.clear
        self.fold = aggregate.FOLDS[watch.aggregate] if watch.aggregate else None
        self.mode = "aggregate" if self.fold else ("window" if self.window else "runs")
        self.nodata = watch.nodata

    def new_state(self) -> list:
        return [
            0,
            0.0,
            NEVER,
            None,
            [] if self.mode == "window" else duration.new_runs(len(self.sevs)),
            aggregate.new_window() if self.fold else None,
            nodata.new_state() if self.nodata else None,
        ]

    def fits(self, st: list) -> bool:
        """Does stored state ``st`` have this rule's shape (after a policy change it may not)?"""
        body = st[RUNS]
        if self.mode == "window":
            shape_ok = not body or isinstance(body[0], list)
        else:
            shape_ok = len(body) == 2 * len(self.sevs) and not (body and isinstance(body[0], list))
        return (
            len(st) == 7
            and shape_ok
            and (st[AGG] is not None) == (self.fold is not None)
            and (st[NODATA] is not None) == (self.nodata is not None)
            and st[0] <= (self.sevs[-1] if self.sevs else 0)
        )

    def update(self, st: list, t: float, value: float, gap: float) -> tuple[int, int, float] | None:
        """Feed one sample; ``(previous, new, evaluated value)`` on a transition, else None."""
        last = st[LAST]
        if t <= last:
            return None  # a duplicate or late sample: history is not rewritten
        st[LAST] = t
        if not self.sevs:
            return None  # a no-data-only watch
        if self.mode == "window":
            raised, held = self.thresholds.classify(value)
            candidate, held = window.advance(
                st[RUNS], t, raised, held, self.window, self.count, self.sevs
            )
            x = value
        else:
            runs = st[RUNS]
            if t - last > gap:
                duration.reset(runs)
                st[CLEARING] = None
            x = aggregate.push(st[AGG], t, value, self.window, self.fold) if self.fold else value
            raised, held = self.thresholds.classify(x)
            if raised or runs[1]:
                candidate = duration.advance(runs, t, raised, self.sevs, self.count, self.duration)
            else:
                candidate = 0
        if not (candidate or held or st[0]):
            return None
        previous = st[0]
        change = decide(st, t, candidate, held, self.clear)
        if change is None:
            return None
        if previous == 0:
            st[SINCE] = window.began(st[RUNS], t) if self.mode == "window" else self._began(st, t)
        return change[0], change[1], x

    def _began(self, st: list, t: float) -> float:
        runs = st[RUNS]
        return runs[0] if runs and runs[1] else t

    def rebase(self, st: list) -> None:
        """The collector's clock stepped back: time differences across the step mean nothing."""
        st[LAST] = NEVER
        st[CLEARING] = None
        if self.mode == "window":
            st[RUNS].clear()
        else:
            duration.reset(st[RUNS])
        if st[AGG] is not None:
            aggregate.clear(st[AGG])

    def threshold_for(self, previous: int, new: int) -> float:
        """The threshold crossed: the new level's going up, the left level's recovery going down."""
        if new > previous:
            return self.levels[new].threshold
        return self.watch.recovery_threshold(self.levels[previous])
