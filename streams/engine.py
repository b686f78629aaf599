"""The pure rule engine: one host's batch and state in, new state and transitions out.

This is the whole contract the Faust agent sees (it stores the returned state in a
changelog table and sends the events); nothing here imports faust or aiokafka or
reads a clock. Per host the engine compiles, once, a table from item to the rules
that watch it (cached by host, OS and tags), so a sample nobody watches costs one
dict lookup. Which batches apply is decided by gamsi.streams.ordering (replays
and late batches are dropped whole, agent restarts and clock steps restart the
evidence); the deterministic event ids make a replay of a batch whose state was
not yet saved produce the same events again. The state itself is named in
gamsi.streams.state; what survives a policy change in gamsi.streams.migrate.
"""

from __future__ import annotations

import hashlib
from typing import Any

import orjson

from gamsi.schemas.columns import of_item, rows
from gamsi.schemas.records import MetricBatch, SeverityEvent
from gamsi.streams.events import TRANSITIONS, event_id, nodata_event, value_event
from gamsi.streams.migrate import adopt, migrate
from gamsi.streams.ordering import LATE, STEP, Refused, place
from gamsi.streams.policy.dump import policy_to_dict
from gamsi.streams.policy.load import load_policy
from gamsi.streams.policy.match import enabled_watches
from gamsi.streams.policy.model import HEARTBEAT_ITEM, Policy, Watch
from gamsi.streams.rules import nodata
from gamsi.streams.rules.machine import GAP_INTERVALS, Rule
from gamsi.streams.rules.registry import build_processors
from gamsi.streams.staleness import sweep
from gamsi.streams.state import NEVER, STATE_VERSION, HostState, load

_TABLE_CACHE = 100_000
_PREVIOUS = 4
"""Earlier policies an engine remembers, to tell what a kept series meant."""
STALE_INTERVALS = 5.0
"""Default: a series missing from a host's batches for longer than this many intervals is gone."""
PIPELINE_GAP = 15.0
"""Default: seconds between two ticks beyond which the pipeline was not watching."""


class HostTable:
    """The rules that apply to one (host, OS, tags), indexed by item then instance."""

    __slots__ = ("by_item", "heartbeat", "processors", "rules")

    def __init__(self, engine: Engine, host: str, os_name: str, tags: tuple[str, ...]) -> None:
        watches = enabled_watches(engine.policy, host, os_name, tags)
        self.rules = {w.name: engine.rule(w) for w in watches}
        self.by_item: dict[str, dict[str, list[tuple[Rule, str, str]]]] = {}
        for rule in self.rules.values():
            self.by_item.setdefault(rule.watch.item, {})
        watched = set(self.by_item)
        self.processors = [p for p in engine.processors if p.output in watched]
        self.heartbeat = self.resolve(HEARTBEAT_ITEM, "") if HEARTBEAT_ITEM in watched else []

    def resolve(self, item: str, instance: str) -> list[tuple[Rule, str, str]]:
        """(rule, series key, instance) for one item instance, computed once and cached."""
        entries = [
            (rule, f"{rule.name}\t{instance}", instance)
            for rule in self.rules.values()
            if rule.watch.item == item and rule.watch.covers_instance(instance)
        ]
        self.by_item.setdefault(item, {})[instance] = entries
        return entries


class Engine:
    """The rules of one policy. ``previous``: the engine it replaces (for policy changes);
    ``stale_intervals``: when a missing series is gone; ``pipeline_gap``: seconds between
    ticks beyond which the pipeline was not watching (see docs/rules.md)."""

    def __init__(
        self,
        policy: Policy,
        *,
        previous: Engine | None = None,
        stale_intervals: float = STALE_INTERVALS,
        pipeline_gap: float = PIPELINE_GAP,
    ) -> None:
        self.policy = policy
        self.stale_intervals = stale_intervals
        self.pipeline_gap = pipeline_gap
        self.processors = build_processors(policy.processors)
        self.signature = hashlib.blake2b(
            orjson.dumps(policy_to_dict(policy), option=orjson.OPT_SORT_KEYS), digest_size=8
        ).hexdigest()
        self.previous: dict[str, Engine] = {}
        if previous is not None:
            self.previous = {**previous.previous, previous.signature: previous}
            self.previous.pop(self.signature, None)
            for sig in list(self.previous)[:-_PREVIOUS]:
                del self.previous[sig]
            for e in self.previous.values():
                e.previous = {}  # keep one level: the chain must not grow
        self._rules: dict[int, Rule] = {}
        self._tables: dict[tuple[str, str, tuple[str, ...]], HostTable] = {}

    def rule(self, watch: Watch) -> Rule:
        rule = self._rules.get(id(watch))
        if rule is None or rule.watch is not watch:
            rule = self._rules[id(watch)] = Rule(watch)
        return rule

    def table(self, host: str, os_name: str, tags: tuple[str, ...]) -> HostTable:
        key = (host, os_name, tags)
        table = self._tables.get(key)
        if table is None:
            if len(self._tables) >= _TABLE_CACHE:
                self._tables.clear()
            table = self._tables[key] = HostTable(self, host, os_name, tags)
        return table

    # -- the contract -----------------------------------------------------------------

    def process(self, state: Any, batch: MetricBatch) -> tuple[HostState, list[SeverityEvent]]:
        """Feed one host's batch (event time = batch.ts); return the new state and transitions.

        ``state`` is the host's :class:`HostState`, its changelog form (this version or
        version 1) or None. Raises :class:`~gamsi.streams.ordering.Refused` for a batch
        that cannot be placed in the host's order (the caller dead-letters it)."""
        restored = not isinstance(state, HostState)
        state = load(state)
        events: list[SeverityEvent] = []
        where = place(state, batch)
        if where == LATE:
            state.late += 1  # duplicate or out of order: already applied or superseded
            return state, events
        t, host, interval = batch.ts, batch.host, batch.interval
        tags = tuple(batch.tags)
        table = self.table(host, batch.os, tags)
        if restored:
            adopt(state, table.rules)
        if where == STEP:
            state.steps += 1
            self._rebase(state, table, t, interval)
        elif t - state.ts > (GAP_INTERVALS * interval if interval > 0 else float("inf")):
            state.resumed = t
        if state.sig != self.signature or state.os != batch.os or state.tags != batch.tags:
            events += migrate(state, table.rules, self._old(state, host), host, t, batch.tags)
            state.sig, state.os, state.tags = self.signature, batch.os, list(tags)
        state.ts = t
        state.seq = batch.seq
        series = state.series
        by_item = table.by_item
        for item, value, instance in rows(batch.samples):  # columns: no Sample object made
            per_instance = by_item.get(item)
            if per_instance is None:
                continue  # no watch of this host names the item
            entries = per_instance.get(instance)
            if entries is None:
                entries = table.resolve(item, instance)
            for rule, key, _ in entries:
                st = series.get(key)
                if st is None:
                    st = series[key] = rule.new_state()
                change = rule.update(st, t, value, interval)
                if change is not None:
                    events.append(value_event(rule, st, instance, host, t, change, batch.tags))
        if table.processors:
            self._derive(state, table, batch, events)
        for rule, key, _ in table.heartbeat:
            st = series.get(key)
            if st is None:
                st = series[key] = rule.new_state()
            change = rule.update(st, t, 1.0, interval)
            if change is not None:
                events.append(value_event(rule, st, "", host, t, change, batch.tags))
        if interval > 0:
            bound = self.stale_intervals * interval
            events += sweep(state, table.rules, t, bound, host, batch.tags)
        return state, events

    def tick(
        self, state: Any, host: str, now: float, watching: bool = True
    ) -> tuple[HostState, list[SeverityEvent]]:
        """Timers on processor time ``now``: no-data raise and its recovery.

        ``watching`` is False when the pipeline cannot vouch that this host's data would
        have been seen by now (its partition lags, the tick itself was queued): then no
        silence is judged and the next watching tick restarts the silence clocks. So
        does a tick more than ``pipeline_gap`` seconds after the previous one."""
        if state is None:
            return HostState(), []
        restored = not isinstance(state, HostState)
        state = load(state)
        if not watching:
            state.tick = NEVER
            return state, []
        unwatched = now - state.tick > self.pipeline_gap
        state.tick = now
        table = self.table(host, state.os, tuple(state.tags))
        if restored:
            adopt(state, table.rules)
        events = []
        for key, st in state.series.items():
            nd = st.nd
            rule = table.rules.get(key.partition("\t")[0]) if nd is not None else None
            if rule is None or rule.nodata is None:
                continue
            spec = rule.nodata
            if unwatched:
                change = nodata.restart(nd, st.last, now)
            else:
                change = nodata.tick(nd, st.last, now, spec.after, int(spec.severity))
            if change is None:
                continue
            if change[0] == "raise" and st.open is None:
                st.open = [rule.item, 0.0, 0.0]
            elif change[0] == "recover" and not st.sev:
                st.open = None
            instance = key.partition("\t")[2]
            events.append(
                nodata_event(rule.name, rule.item, instance, host, change, spec.after, now,
                             state.tags)
            )  # fmt: skip
        return state, events

    # -- helpers ------------------------------------------------------------------------

    def _old(self, state: HostState, host: str) -> dict[str, Watch] | None:
        """The watches that judged ``state`` last, if this engine still knows that policy."""
        old = self.previous.get(state.sig)
        if old is None:
            return None
        return {n: r.watch for n, r in old.table(host, state.os, tuple(state.tags)).rules.items()}

    def _rebase(self, state: HostState, table: HostTable, t: float, interval: float) -> None:
        """The batch at ``t`` is behind the last applied one (a clock step or an agent run on
        a slower clock): restart runs and windows, keep each series' age."""
        shift = t - max(interval, 0.0) - state.ts
        for key, st in state.series.items():
            rule = table.rules.get(key.partition("\t")[0])
            if rule is not None:
                rule.rebase(st, shift)
            elif st.last != NEVER:
                st.last += shift
        state.derived.clear()  # processors' histories are on the old clock
        state.resumed = t

    def _derive(self, state: HostState, table: HostTable, batch: MetricBatch, events: list) -> None:
        """Run the stream processors on their input items and judge their outputs."""
        pstate = state.derived
        t = batch.ts
        for proc in table.processors:
            for sample, sample_instance in of_item(batch.samples, proc.input):
                pkey = f"{proc.name}\t{sample_instance}"
                pstate[pkey], value = proc.derive(pstate.get(pkey), t, sample)
                if value is None:
                    continue
                entries = table.by_item[proc.output].get(sample_instance)
                if entries is None:
                    entries = table.resolve(proc.output, sample_instance)
                for rule, key, instance in entries:
                    st = state.series.get(key)
                    if st is None:
                        st = state.series[key] = rule.new_state()
                    change = rule.update(st, t, value, batch.interval)
                    if change is not None:
                        events.append(
                            value_event(rule, st, instance, batch.host, t, change, batch.tags)
                        )


def new_state() -> HostState:
    """A host's state before its first batch."""
    return HostState()


__all__ = [
    "STATE_VERSION", "TRANSITIONS", "Engine", "Refused", "event_id", "load_policy", "new_state",
]  # fmt: skip
