"""The state machine of one (host, watch, instance): samples in, transitions out.

A :class:`Rule` is a watch compiled once: its thresholds, its mode (consecutive
runs, a counting window, or an aggregate) and the numbers it needs. ``update``
takes the series' state (a :class:`~gamsi.streams.state.Series`), one sample's
event time, value and the collector's interval, and returns ``(previous, new,
value)`` when the sample causes a transition. The common case, a normal value on a
normal series, returns after one comparison. See docs/rules.md for the semantics.
"""

from __future__ import annotations

from gamsi.streams.policy.model import Watch
from gamsi.streams.rules import aggregate, duration, window
from gamsi.streams.rules.hysteresis import decide
from gamsi.streams.rules.threshold import Thresholds
from gamsi.streams.state import NEVER, NoDataState, Series, Window

GAP_INTERVALS = 3.0
"""A sample more than this many collection intervals after the previous one breaks runs."""
INF = float("inf")


class Rule:
    """A compiled watch."""

    __slots__ = (
        "clear", "count", "duration", "fold", "item", "levels", "mode", "name", "nodata",
        "sevs", "thresholds", "watch", "window",
    )  # fmt: skip

    def __init__(self, watch: Watch) -> None:
        self.watch = watch
        self.name = watch.name
        self.item = watch.item
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

    def new_state(self) -> Series:
        return Series(
            body=[] if self.mode == "window" else duration.new_runs(len(self.sevs)),
            agg=Window() if self.fold else None,
            nd=NoDataState() if self.nodata else None,
        )

    def fits(self, st: Series) -> bool:
        """Does stored state ``st`` have this rule's shape, and is its severity a level here?"""
        body = st.body
        if self.mode == "window":
            shape_ok = not body or isinstance(body[0], list)
        else:
            shape_ok = len(body) == 2 * len(self.sevs) and not (body and isinstance(body[0], list))
        return (
            shape_ok
            and (st.agg is not None) == (self.fold is not None)
            and (st.nd is not None) == (self.nodata is not None)
            and (st.sev == 0 or st.sev in self.levels)
            and (st.nd is None or st.nd.active in (0, int(self.nodata.severity)))
        )

    def update(
        self, st: Series, t: float, value: float, interval: float
    ) -> tuple[int, int, float] | None:
        """Feed one sample; ``(previous, new, evaluated value)`` on a transition, else None."""
        last = st.last
        if t <= last:
            return None  # a duplicate or late sample: history is not rewritten
        st.last = t
        if not self.sevs:
            return None  # a no-data-only watch
        if self.mode == "window":
            raised, held = self.thresholds.classify(value)
            candidate, held = window.advance(
                st.body, t, raised, held, self.window, self.count, self.sevs
            )
            x = value
        else:
            runs = st.body
            if t - last > (GAP_INTERVALS * interval if interval > 0 else INF):
                duration.reset(runs)
                st.clearing = None
                if st.agg is not None:
                    st.agg.clear()  # a window with a hole is not evidence of the window
            if self.fold:
                x = aggregate.push(st.agg, t, value, self.window, self.fold)
                raised, held = self.thresholds.classify(x)
                if raised > st.sev and not aggregate.covered(st.agg, t, self.window, interval):
                    raised = st.sev  # too few samples to speak for the whole window
            else:
                x = value
                raised, held = self.thresholds.classify(x)
            if raised or runs[1]:
                candidate = duration.advance(runs, t, raised, self.sevs, self.count, self.duration)
            else:
                candidate = 0
        if not (candidate or held or st.sev):
            return None
        previous = st.sev
        change = decide(st, t, candidate, held, self.clear)
        if change is None:
            if previous:
                self._still_open(st, previous, x)
            return None
        new = change[1]
        if previous == 0:
            st.since = window.began(st.body, t) if self.mode == "window" else self._began(st, t)
        if new:
            st.open = [self.item, x, self.threshold_for(previous, new)]
        elif st.nd is None or not st.nd.active:
            st.open = None
        return previous, new, x

    def _still_open(self, st: Series, sev: int, x: float) -> None:
        if st.open is None:  # kept from a version 1 state, which did not record it
            level = self.levels.get(sev)
            st.open = [self.item, x, 0.0 if level is None else level.threshold]
        else:
            st.open[1] = x

    def _began(self, st: Series, t: float) -> float:
        runs = st.body
        return runs[0] if runs and runs[1] else t

    def rebase(self, st: Series, shift: float) -> None:
        """The collector's clock stepped (or a new agent run began on another clock): time
        differences across the step mean nothing, so runs and windows restart. ``last``
        moves by ``shift`` so the series' age relative to the host's batches is kept."""
        if st.last != NEVER:
            st.last += shift
        st.clearing = None
        if self.mode == "window":
            st.body.clear()
        else:
            duration.reset(st.body)
        if st.agg is not None:
            st.agg.clear()

    def threshold_for(self, previous: int, new: int) -> float:
        """The threshold crossed: the new level's going up, the left level's recovery going down."""
        if new > previous:
            return self.levels[new].threshold
        return self.watch.recovery_threshold(self.levels[previous])
