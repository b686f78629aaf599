"""No data (데이터 없음): a series that stops arriving is a condition of its own.

Collector clocks can be ahead of or behind the processor, so silence is measured
on the *processor's* clock only: each tick compares the series' last event time
with what it saw at the previous tick. If it moved, data arrived and the arrival
time is this tick's ``now``; if it has not moved for ``after`` seconds of
processor time, the series raises its no-data severity. The next tick that sees
new data recovers it. Resolution is the tick interval; no event time is ever
compared with ``now``.

Event times of no-data events are processor times: the raise is stamped at the
deadline (last arrival + after), which depends only on stored state, so a tick
replayed after a restart produces the same event id.

State ``[mark, arrival, active, since]``: the last event time seen by a tick, its
processor arrival time, the raised severity (0: none) and the raise time.
"""

from __future__ import annotations


def new_state() -> list:
    return [None, 0.0, 0, 0.0]


def tick(
    nd: list, last: float, now: float, after: float, severity: int
) -> tuple[str, int, float] | None:
    """("raise", severity, deadline) or ("recover", previous severity, raised at) or None."""
    if last != nd[0]:
        nd[0] = last
        nd[1] = now
        if nd[2]:
            previous, since = nd[2], nd[3]
            nd[2] = 0
            nd[3] = 0.0
            return "recover", previous, since
        return None
    if not nd[2] and now - nd[1] >= after:
        nd[2] = severity
        nd[3] = nd[1] + after
        return "raise", severity, nd[3]
    return None
