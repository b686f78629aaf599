"""Staleness per series: an instance missing from its host's batches is gone.

Like a Prometheus staleness marker or Netdata's REMOVED chart: when a host's batches
keep arriving without a series (a mount, NIC, disk, core, process) for longer than a
bound (``stale_intervals`` collection intervals), its open value problem closes with
an explicit "instance gone" recovery that names the series in full, and the series is
forgotten, so state stays bounded on hosts whose instances come and go. Time counts
from the later of the series' last sample and the host's return from a break
(``HostState.resumed``): a host back from a reboot is not read as losing what its
first batches lack. A series watched for no data keeps that condition: its absence
is what the no-data rule reports.
"""

from __future__ import annotations

from gamsi.schemas.records import SeverityEvent
from gamsi.streams.events import closing_events
from gamsi.streams.rules.machine import Rule
from gamsi.streams.state import NEVER, HostState


def sweep(
    state: HostState, rules: dict[str, Rule], t: float, bound: float, host: str, tags: list[str]
) -> list[SeverityEvent]:
    """Close and forget the series of ``state`` missing for longer than ``bound`` seconds
    at event time ``t``; ``rules`` are the host's rules by watch name."""
    horizon = t - bound
    if state.resumed >= horizon:
        return []  # the host itself was away until recently: nothing is missing yet
    gone = [
        k
        for k, st in state.series.items()
        if st.last < horizon and st.last != NEVER and (st.sev or st.nd is None)
    ]
    events: list[SeverityEvent] = []
    for key in gone:
        st = state.series[key]
        name, _, instance = key.partition("\t")
        events += closing_events(name, instance, st, host, t, "gone", tags, nodata=False)
        rule = rules.get(name)
        if st.nd is None or rule is None:
            del state.series[key]
            continue
        fresh = rule.new_state()
        fresh.last, fresh.nd = st.last, st.nd
        fresh.open = st.open if st.nd.active else None
        state.series[key] = fresh
    if gone and state.derived:
        alive = {k.partition("\t")[2] for k in state.series}
        for pkey in [k for k in state.derived if k.partition("\t")[2] not in alive]:
            del state.derived[pkey]
    return events
