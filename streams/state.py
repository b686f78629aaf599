"""The engine's per-host state, by name, and its changelog form (compact, positional).

In memory every part of the state is a slotted object with named fields
(:class:`HostState`, :class:`Series`, :class:`NoDataState`, :class:`Window`), so the
rules read ``series.sev`` and ``nd.active`` instead of ``st[0]`` and ``nd[2]``. On the
changelog the same values are written as JSON arrays in a fixed field order
(:func:`dump`), which is no larger than version 1's dict with its key names:
the names live in the code, not in every record.

Versions: :data:`STATE_VERSION` is written; :func:`load` reads it and version 1
(a dict ``{"v": 1, "ts": ..., "s": {key: [sev, since, last, clearing, body, agg, nd]}}``,
written by Gamsi up to November 2026), and gives a fresh state for anything else, so a
record from a newer or broken writer never stops a worker. The fields added in version
2 (agent run ids, the last watched tick) start empty when version 1 is read.
"""

from __future__ import annotations

from typing import Any

STATE_VERSION = 2
NEVER = -1e300
"""Event time of "no sample yet" (finite, so JSON keeps it)."""
MAX_PAST_RUNS = 4
"""Agent runs remembered per host besides the current one (their last seq)."""


class NoDataState:
    """Silence of one series on the processor's clock (see gamsi.streams.rules.nodata).

    ``mark``: the series' last event time seen by a tick (None before the first tick);
    ``arrival``: processor time at which that tick saw it move; ``active``: the raised
    no-data severity (0: none); ``since``: when it was raised (processor time)."""

    __slots__ = ("active", "arrival", "mark", "since")

    def __init__(
        self, mark: float | None = None, arrival: float = 0.0, active: int = 0, since: float = 0.0
    ) -> None:
        self.mark, self.arrival, self.active, self.since = mark, arrival, active, since

    def dump(self) -> list:
        return [self.mark, self.arrival, self.active, self.since]


class Window:
    """An aggregate's sliding window: event times and values, oldest first."""

    __slots__ = ("times", "values")

    def __init__(self, times: list[float] | None = None, values: list[float] | None = None):
        self.times: list[float] = [] if times is None else times
        self.values: list[float] = [] if values is None else values

    def clear(self) -> None:
        self.times.clear()
        self.values.clear()

    def dump(self) -> list:
        return [self.times, self.values]


class Series:
    """The state of one (host, watch, instance).

    - ``sev``: current severity (0 normal .. 5 fatal); ``since``: event time the problem
      began (0.0 when normal); ``last``: event time of the last sample (:data:`NEVER`);
      ``clearing``: event time the current clearing run began (None: not clearing);
    - ``body``: the evidence of the watch's mode — consecutive runs ``[start, n, ...]``
      per level from the mildest up, or a counting window's ``[[t, raise, hold], ...]``;
    - ``agg``: the aggregate's :class:`Window` (None without an aggregate);
    - ``nd``: :class:`NoDataState` (None without a no-data condition);
    - ``open``: ``[item, last value, threshold]`` while a problem of this series is open
      (value or no data), so a transition that closes it can name it in full even when
      its watch is gone; None otherwise (and then not written).
    """

    __slots__ = ("agg", "body", "clearing", "last", "nd", "open", "sev", "since")

    def __init__(
        self,
        sev: int = 0,
        since: float = 0.0,
        last: float = NEVER,
        clearing: float | None = None,
        body: list | None = None,
        agg: Window | None = None,
        nd: NoDataState | None = None,
        open: list | None = None,
    ) -> None:
        self.sev, self.since, self.last, self.clearing = sev, since, last, clearing
        self.body: list = [] if body is None else body
        self.agg, self.nd, self.open = agg, nd, open

    def dump(self) -> list:
        out = [
            self.sev,
            self.since,
            self.last,
            self.clearing,
            self.body,
            None if self.agg is None else self.agg.dump(),
            None if self.nd is None else self.nd.dump(),
        ]
        if self.open is not None:
            out.append(self.open)
        return out

    @classmethod
    def load(cls, raw: list) -> Series:
        agg, nd = raw[5], raw[6]
        return cls(
            int(raw[0]),
            float(raw[1]),
            float(raw[2]),
            raw[3],
            list(raw[4]),
            None if agg is None else Window(list(agg[0]), list(agg[1])),
            None if nd is None else NoDataState(nd[0], float(nd[1]), int(nd[2]), float(nd[3])),
            list(raw[7]) if len(raw) > 7 and raw[7] is not None else None,
        )


class HostState:
    """One host's state: ordering, identity, every series and every processor's state.

    - ``ts``, ``seq``, ``run``: event time, tick counter and agent run id of the last
      applied batch; ``past``: earlier runs of the agent → their last applied seq (at most
      :data:`MAX_PAST_RUNS`), so a batch of an earlier run is recognised as a replay;
    - ``os``, ``tags``, ``sig``: what the host's watch table was compiled for (OS, tags,
      policy signature); a change of any re-checks every series;
    - ``series``: ``"watch\\tinstance"`` → :class:`Series`; ``derived``:
      ``"processor\\tinstance"`` → that processor's own state (plain JSON);
    - ``late``, ``steps``: batches dropped as already applied or superseded, and clock
      steps back (counters for the operator);
    - ``tick``: processor time of the last tick that watched this host (:data:`NEVER`
      before one, or after a tick that could not watch);
    - ``resumed``: event time of the first batch after the host's last break (a gap of
      more than 3 intervals, a clock step): series missing since are measured from it.
    """

    __slots__ = (
        "derived", "late", "os", "past", "resumed", "run", "seq", "series", "sig", "steps",
        "tags", "tick", "ts",
    )  # fmt: skip

    def __init__(self) -> None:
        self.ts = NEVER
        self.seq = -1
        self.run = ""
        self.past: dict[str, int] = {}
        self.os = ""
        self.tags: list[str] = []
        self.sig = ""
        self.series: dict[str, Series] = {}
        self.derived: dict[str, Any] = {}
        self.late = 0
        self.steps = 0
        self.tick = NEVER
        self.resumed = NEVER

    def remember_run(self, run: str, seq: int) -> None:
        """Keep ``run``'s last seq among the past runs, forgetting the oldest beyond the bound."""
        self.past.pop(run, None)
        self.past[run] = seq
        while len(self.past) > MAX_PAST_RUNS:
            del self.past[next(iter(self.past))]


def dump(state: HostState) -> list:
    """The changelog form: ``[version, ts, seq, os, tags, sig, series, derived, late, steps,
    run, past, tick, resumed]`` with each series as :meth:`Series.dump` writes it."""
    return [
        STATE_VERSION,
        state.ts,
        state.seq,
        state.os,
        state.tags,
        state.sig,
        {k: s.dump() for k, s in state.series.items()},
        state.derived,
        state.late,
        state.steps,
        state.run,
        state.past,
        state.tick,
        state.resumed,
    ]


def load(raw: Any) -> HostState:
    """A :class:`HostState` from its changelog form (this version or version 1).

    Anything else — None, another version, a malformed record — gives a fresh state:
    the host is judged from scratch rather than the worker stopping.
    """
    if isinstance(raw, HostState):
        return raw
    try:
        if isinstance(raw, list) and raw and raw[0] == STATE_VERSION:
            return _load_v2(raw)
        if isinstance(raw, dict) and raw.get("v") == 1:
            return _load_v1(raw)
    except (IndexError, KeyError, TypeError, ValueError, AttributeError):
        pass
    return HostState()


def _load_v2(raw: list) -> HostState:
    st = HostState()
    st.ts, st.seq, st.os, st.tags, st.sig = float(raw[1]), int(raw[2]), raw[3], list(raw[4]), raw[5]
    st.series = {k: Series.load(v) for k, v in raw[6].items()}
    st.derived, st.late, st.steps = dict(raw[7]), int(raw[8]), int(raw[9])
    st.run, st.tick, st.resumed = str(raw[10]), float(raw[12]), float(raw[13])
    st.past = {str(k): int(v) for k, v in raw[11].items()}
    return st


def _load_v1(raw: dict) -> HostState:
    """Version 1: the same values under key names; its series lists are version 2's."""
    st = HostState()
    st.ts, st.seq = float(raw["ts"]), int(raw["seq"])
    st.os, st.tags, st.sig = raw["os"], list(raw["tags"]), raw["sig"]
    st.series = {k: Series.load(v) for k, v in raw["s"].items()}
    st.derived, st.late, st.steps = dict(raw["p"]), int(raw["late"]), int(raw["steps"])
    return st


def default(obj: Any) -> Any:
    """orjson's ``default`` hook: the changelog form of a state object."""
    if isinstance(obj, HostState):
        return dump(obj)
    if isinstance(obj, Series | Window | NoDataState):
        return obj.dump()
    raise TypeError(f"cannot write {type(obj).__name__} to the state changelog")
