"""No data (데이터 없음): a series that stops arriving is a condition of its own.

Collector clocks can be ahead of or behind the processor, so silence is measured
on the *processor's* clock only: each tick compares the series' last event time
with what it saw at the previous tick. If it moved, data arrived and the arrival
time is this tick's ``now``; if it has not moved for ``after`` seconds of
processor time, the series raises its no-data severity. The next tick that sees
new data recovers it. Resolution is the tick interval; no event time is ever
compared with ``now``.

Silence counts only while the pipeline watched: :func:`restart` is called for a
tick that follows time the pipeline did not watch (a worker down, a partition
lagging, a broker away), and gives the series a full ``after`` from that tick on.

Event times of no-data events are processor times: the raise is stamped at the
deadline (last arrival + after), which depends only on stored state, so a tick
replayed after a restart produces the same event id.
"""

from __future__ import annotations

from gamsi.streams.state import NoDataState


def tick(
    nd: NoDataState, last: float, now: float, after: float, severity: int
) -> tuple[str, int, float] | None:
    """("raise", severity, deadline) or ("recover", previous severity, raised at) or None."""
    if last != nd.mark:
        nd.mark = last
        nd.arrival = now
        if nd.active:
            previous, since = nd.active, nd.since
            nd.active = 0
            nd.since = 0.0
            return "recover", previous, since
        return None
    if not nd.active and now - nd.arrival >= after:
        nd.active = severity
        nd.since = nd.arrival + after
        return "raise", severity, nd.since
    return None


def restart(nd: NoDataState, last: float, now: float) -> tuple[str, int, float] | None:
    """The pipeline was not watching before ``now``: silence is counted from ``now`` on.

    Data that arrived meanwhile is an arrival (and may recover a raised no-data); no
    silence is concluded from the time before ``now``."""
    if last != nd.mark:
        return tick(nd, last, now, 0.0, 0)
    nd.arrival = now
    return None
