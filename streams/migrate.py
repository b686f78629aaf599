"""A host's series across a change of policy, OS or tags: keep, re-judge or close.

State kept across a policy change must still *mean* what it meant. For every series
the engine compares the watch that built it (from the previous policy, when this
worker still knows it) with the watch that applies now:

- **keep**: the watch is unchanged in everything that judges (levels, count,
  duration, mode, window, aggregate, no-data): the series continues as it was;
- **re-judge**: the levels, count or duration changed but the direction, mode,
  window and aggregate did not, and the current severity is still one of its
  levels: the severity is kept, the evidence judged against the old thresholds (runs,
  counted breaches) restarts and the next samples decide under the new ones;
- **close**: the watch is gone or no longer covers the instance, or its direction,
  mode, window, aggregate or no-data condition changed, or the severity is no longer
  one of its levels: every open problem of the series gets a recovery that names it
  in full ("no longer applies as it was") and the series starts afresh.

When the previous policy is unknown (the worker restarted since), a series is
re-judged if its stored shape fits the new watch and its severity is one of its
levels, and closed otherwise.
"""

from __future__ import annotations

from gamsi.schemas.records import SeverityEvent
from gamsi.streams.events import closing_events
from gamsi.streams.policy.model import Watch
from gamsi.streams.rules import duration
from gamsi.streams.rules.machine import Rule
from gamsi.streams.state import HostState, Series

KEEP, REJUDGE, CLOSE = "keep", "rejudge", "close"


def _direction(w: Watch) -> bool | None:
    return w.levels[0].upward if w.levels else None


def verdict(old: Watch | None, rule: Rule | None, st: Series) -> str:
    """What to do with series ``st`` built by ``old`` (None: unknown) now that ``rule`` applies."""
    if rule is None or not rule.fits(st):
        return CLOSE
    if st.open is not None and st.open[0] != rule.item:
        return CLOSE  # the problem was about another item: close it under its own name
    new = rule.watch
    if old is None:
        return REJUDGE
    if old.item != new.item:
        return CLOSE
    same_kind = (
        _direction(old) == _direction(new)
        and old.aggregate == new.aggregate
        and old.window == new.window
        and bool(old.window) == bool(new.window)
        and old.nodata == new.nodata
    )
    if not same_kind:
        return CLOSE
    if old.levels == new.levels and old.count == new.count and old.duration == new.duration:
        return KEEP
    return REJUDGE


def migrate(
    state: HostState,
    rules: dict[str, Rule],
    old_watches: dict[str, Watch] | None,
    host: str,
    t: float,
    tags: list[str],
) -> list[SeverityEvent]:
    """Apply :func:`verdict` to every series of ``state``; return the closing recoveries.

    ``rules`` are the rules that apply to the host now, by watch name; ``old_watches``
    the watches that applied when the state was last judged (None: unknown)."""
    events: list[SeverityEvent] = []
    series = state.series
    for key in list(series):
        st = series[key]
        name, _, instance = key.partition("\t")
        rule = rules.get(name)
        if rule is not None and not rule.watch.covers_instance(instance):
            rule = None
        old = old_watches.get(name) if old_watches is not None else None
        what = verdict(old, rule, st)
        if what == KEEP:
            continue
        if what == REJUDGE:
            _restart_evidence(rule, st)
            continue
        events += closing_events(name, instance, st, host, t, "policy", tags)
        del series[key]
    return events


def _restart_evidence(rule: Rule, st: Series) -> None:
    """Keep severity and problem; forget evidence gathered under the old thresholds (runs
    and counted breaches; an aggregate's window holds raw values and stays)."""
    st.clearing = None
    if rule.mode == "window":
        st.body = []
    else:
        st.body = duration.new_runs(len(rule.sevs))
    if st.sev and st.open is not None:
        st.open[2] = rule.levels[st.sev].threshold


def adopt(state: HostState, rules: dict[str, Rule]) -> None:
    """A state read back from the changelog: fill in what version 1 did not record (the
    item of an open problem), from the watch that applies now."""
    for key, st in state.series.items():
        if st.open is None and (st.sev or (st.nd is not None and st.nd.active)):
            rule = rules.get(key.partition("\t")[0])
            if rule is not None:
                level = rule.levels.get(st.sev)
                st.open = [rule.item, 0.0, level.threshold if level else 0.0]
