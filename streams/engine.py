"""The pure rule engine: one host's batch and state in, new state and transitions out.

This is the whole contract the Faust agent sees (it stores the returned state in a
changelog table and sends the events); nothing here imports faust or aiokafka or
reads a clock. Per host the engine compiles, once, a table from item to the rules
that watch it (cached by host, OS and tags), so a sample nobody watches costs one
dict lookup. Batches at or before the last one applied are dropped whole: that makes
redelivery after a restart harmless, and the deterministic event ids make a replay
of a batch whose state was not yet saved produce the same events again.
"""

from __future__ import annotations

import hashlib
from typing import Any

import orjson

from gamsi.schemas.records import MetricBatch, Severity, SeverityEvent
from gamsi.streams.policy.dump import policy_to_dict
from gamsi.streams.policy.load import load_policy
from gamsi.streams.policy.match import enabled_watches
from gamsi.streams.policy.model import HEARTBEAT_ITEM, Policy
from gamsi.streams.rules import nodata
from gamsi.streams.rules.machine import NODATA, Rule
from gamsi.streams.rules.registry import build_processors

STATE_VERSION = 1
GAP_INTERVALS = 3.0
"""A sample more than this many collection intervals after the previous one breaks runs."""
TRANSITIONS = {True: ("raise", "escalate"), False: ("recover", "deescalate")}
INF = float("inf")
_TABLE_CACHE = 100_000


def event_id(*parts: object) -> str:
    """Same transition, same id: downstream deduplicates redelivered events on it."""
    return hashlib.blake2b("\x1f".join(map(str, parts)).encode(), digest_size=12).hexdigest()


class HostTable:
    """The rules that apply to one (host, OS, tags), indexed by item then instance."""

    __slots__ = ("by_item", "heartbeat", "processors", "rules")

    def __init__(self, engine: Engine, host: str, os_name: str, tags: tuple[str, ...]) -> None:
        watches = enabled_watches(engine.policy, host, os_name, tags)
        self.rules = {w.name: engine.rule(w) for w in watches}
        self.by_item: dict[str, dict[str, list[tuple[Rule, str]]]] = {}
        for rule in self.rules.values():
            self.by_item.setdefault(rule.watch.item, {})
        watched = set(self.by_item)
        self.processors = [p for p in engine.processors if p.output in watched]
        self.heartbeat = self.resolve(HEARTBEAT_ITEM, "") if HEARTBEAT_ITEM in watched else []

    def resolve(self, item: str, instance: str) -> list[tuple[Rule, str]]:
        """(rule, series key) for one item instance, computed once and cached."""
        entries = [
            (rule, f"{rule.name}\t{instance}")
            for rule in self.rules.values()
            if rule.watch.item == item and rule.watch.covers_instance(instance)
        ]
        self.by_item.setdefault(item, {})[instance] = entries
        return entries


class Engine:
    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        self.processors = build_processors(policy.processors)
        self.signature = hashlib.blake2b(
            orjson.dumps(policy_to_dict(policy), option=orjson.OPT_SORT_KEYS), digest_size=8
        ).hexdigest()
        self._rules: dict[int, Rule] = {}
        self._tables: dict[tuple[str, str, tuple[str, ...]], HostTable] = {}

    def rule(self, watch: Any) -> Rule:
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

    def process(self, state: dict | None, batch: MetricBatch) -> tuple[dict, list[SeverityEvent]]:
        """Feed one host's batch (event time = batch.ts); return the new state and transitions."""
        if state is None or state.get("v") != STATE_VERSION:
            state = new_state()
        t = batch.ts
        host = batch.host
        tags = tuple(batch.tags)
        events: list[SeverityEvent] = []
        series = state["s"]
        if t <= state["ts"]:
            if batch.seq <= state["seq"]:
                state["late"] += 1  # duplicate or out of order: already applied or superseded
                return state, events
            state["steps"] += 1  # same agent moved on but its clock went back
            table = self.table(host, batch.os, tags)
            for key, st in series.items():
                rule = table.rules.get(key.partition("\t")[0])
                if rule is not None:
                    rule.rebase(st)
        table = self.table(host, batch.os, tags)
        if state["sig"] != self.signature or state["os"] != batch.os or state["tags"] != batch.tags:
            self._migrate(state, table, host, t, events, list(tags))
            state["sig"], state["os"], state["tags"] = self.signature, batch.os, list(tags)
        state["ts"] = t
        state["seq"] = batch.seq
        gap = GAP_INTERVALS * batch.interval if batch.interval > 0 else INF
        by_item = table.by_item
        for s in batch.samples:
            per_instance = by_item.get(s.item)
            if per_instance is None:
                continue
            entries = per_instance.get(s.instance)
            if entries is None:
                entries = table.resolve(s.item, s.instance)
            for rule, key in entries:
                st = series.get(key)
                if st is None:
                    st = series[key] = rule.new_state()
                change = rule.update(st, t, s.value, gap)
                if change is not None:
                    events.append(self._event(rule, st, key, host, t, change, batch.tags))
        if table.processors:
            self._derive(state, table, batch, gap, events)
        for rule, key in table.heartbeat:
            st = series.get(key)
            if st is None:
                st = series[key] = rule.new_state()
            change = rule.update(st, t, 1.0, gap)
            if change is not None:
                events.append(self._event(rule, st, key, host, t, change, batch.tags))
        return state, events

    def tick(self, state: dict | None, host: str, now: float) -> tuple[dict, list[SeverityEvent]]:
        """Timers on processor time ``now``: no-data raise and its recovery."""
        if state is None or state.get("v") != STATE_VERSION:
            return new_state(), []
        table = self.table(host, state["os"], tuple(state["tags"]))
        events = []
        for key, st in state["s"].items():
            name, _, instance = key.partition("\t")
            rule = table.rules.get(name)
            nd = st[NODATA] if rule is not None and rule.nodata is not None else None
            if nd is None:
                continue
            change = nodata.tick(nd, st[2], now, rule.nodata.after, int(rule.nodata.severity))
            if change is None:
                continue
            transition, severity, since = change
            raised = transition == "raise"
            w = rule.watch
            what = f"{w.item}" + (f" {instance}" if instance else "")
            message = (
                f"{host}: no data for {what} for {rule.nodata.after:g} s: {Severity(severity).name}"
                if raised
                else f"{host}: data for {what} is back after no data since {since:.0f}"
            )
            events.append(
                SeverityEvent(
                    event_id=event_id(host, f"{name}/nodata", w.item, instance, transition, since),
                    host=host,
                    item=w.item,
                    instance=instance,
                    watch=f"{name}/nodata",
                    severity=severity if raised else 0,
                    previous=0 if raised else severity,
                    transition=transition,
                    value=0.0,
                    threshold=rule.nodata.after,
                    ts=since if raised else now,
                    since=since if raised else 0.0,
                    message=message,
                    tags=list(state["tags"]),
                )
            )
        return state, events

    # -- helpers ------------------------------------------------------------------------

    def _derive(
        self, state: dict, table: HostTable, batch: MetricBatch, gap: float, events: list
    ) -> None:
        """Run the stream processors on their input items and judge their outputs."""
        pstate = state["p"]
        t = batch.ts
        for proc in table.processors:
            for s in batch.samples:
                if s.item != proc.input:
                    continue
                pkey = f"{proc.name}\t{s.instance}"
                pstate[pkey], value = proc.derive(pstate.get(pkey), t, s.value)
                if value is None:
                    continue
                entries = table.by_item[proc.output].get(s.instance)
                if entries is None:
                    entries = table.resolve(proc.output, s.instance)
                for rule, key in entries:
                    st = state["s"].get(key)
                    if st is None:
                        st = state["s"][key] = rule.new_state()
                    change = rule.update(st, t, value, gap)
                    if change is not None:
                        events.append(self._event(rule, st, key, batch.host, t, change, batch.tags))

    def _migrate(
        self, state: dict, table: HostTable, host: str, t: float, events: list, tags: list[str]
    ) -> None:
        """After a policy, OS or tag change: keep fitting series, recover orphaned problems."""
        series = state["s"]
        for key in list(series):
            st = series[key]
            name, _, instance = key.partition("\t")
            rule = table.rules.get(name)
            if rule is not None and rule.fits(st):
                continue
            if st[0]:
                events.append(
                    SeverityEvent(
                        event_id=event_id(host, name, "", instance, "recover", t, 0, "policy"),
                        host=host,
                        item=rule.watch.item if rule else "",
                        instance=instance,
                        watch=name,
                        severity=0,
                        previous=st[0],
                        transition="recover",
                        value=0.0,
                        threshold=0.0,
                        ts=t,
                        message=f"{host}: watch {name} no longer applies as it was (policy change)",
                        tags=tags,
                    )
                )
            del series[key]

    def _event(
        self, rule: Rule, st: list, key: str, host: str, t: float, change: tuple, tags: list[str]
    ) -> SeverityEvent:
        previous, new, value = change
        transition = TRANSITIONS[new > previous][previous != 0 and new != 0]
        instance = key.partition("\t")[2]
        threshold = rule.threshold_for(previous, new)
        w = rule.watch
        what = w.item + (f" {instance}" if instance else "")
        level = rule.levels[max(new, previous)]
        op = level.op if new > previous else _NEGATE[level.op]
        message = (
            f"{host}: {what} = {value:g} ({op} {threshold:g}): {Severity(new).name} "
            f"{Severity(new).korean}, {_PAST[transition]} from {Severity(previous).name} [{w.name}]"
        )
        return SeverityEvent(
            event_id=event_id(host, w.name, w.item, instance, transition, t, new),
            host=host,
            item=w.item,
            instance=instance,
            watch=w.name,
            severity=new,
            previous=previous,
            transition=transition,
            value=value,
            threshold=threshold,
            ts=t,
            since=st[1],
            message=message,
            tags=list(tags),
        )


_PAST = {
    "raise": "raised",
    "escalate": "escalated",
    "deescalate": "de-escalated",
    "recover": "recovered",
}
_NEGATE = {">": "<=", ">=": "<", "<": ">=", "<=": ">"}


def new_state() -> dict[str, Any]:
    """A host's state before its first batch (plain JSON types only)."""
    return {
        "v": STATE_VERSION,
        "ts": -1e300,
        "seq": -1,
        "os": "",
        "tags": [],
        "sig": "",
        "s": {},
        "p": {},
        "late": 0,
        "steps": 0,
    }


__all__ = ["Engine", "event_id", "load_policy", "new_state"]
