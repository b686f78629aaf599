"""The severity events the engine emits, built in one place so every kind names its series.

Every event carries the full identity of the series it is about — host, watch,
item, instance — plus the value and threshold it was decided on, whether it comes
from a sample (:func:`value_event`), a no-data timer (:func:`nodata_event`) or the
end of a series (:func:`closing_event`: the watch no longer applies after a policy
change, or the instance is gone). A problem opened under one identity is closed
under exactly that identity, which is what the notifier and history pair on.
"""

from __future__ import annotations

import hashlib

from gamsi.schemas.records import Severity, SeverityEvent, reading
from gamsi.streams.rules.machine import Rule
from gamsi.streams.state import Series

TRANSITIONS = {True: ("raise", "escalate"), False: ("recover", "deescalate")}
_PAST = {"raise": "raised", "escalate": "escalated", "deescalate": "de-escalated"}
_PAST["recover"] = "recovered"
_NEGATE = {">": "<=", ">=": "<", "<": ">=", "<=": ">"}
NODATA_SUFFIX = "/nodata"


def event_id(*parts: object) -> str:
    """Same transition, same id: downstream deduplicates redelivered events on it."""
    return hashlib.blake2b("\x1f".join(map(str, parts)).encode(), digest_size=12).hexdigest()


def value_event(
    rule: Rule, st: Series, instance: str, host: str, t: float, change: tuple, tags: list[str]
) -> SeverityEvent:
    """A transition decided by a sample (``change`` is ``(previous, new, value)``)."""
    previous, new, value = change
    transition = TRANSITIONS[new > previous][previous != 0 and new != 0]
    threshold = rule.threshold_for(previous, new)
    w = rule.watch
    what = w.item + (f" {instance}" if instance else "")
    level = rule.levels[max(new, previous)]
    op = level.op if new > previous else _NEGATE[level.op]
    message = (
        f"{host}: {what} = {reading(value)} ({op} {reading(threshold)}): {Severity(new).name} "
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
        since=st.since,
        message=message,
        tags=list(tags),
    )


def nodata_event(
    name: str, item: str, instance: str, host: str, change: tuple, after: float, now: float,
    tags: list[str],
) -> SeverityEvent:  # fmt: skip
    """A no-data raise or recovery (``change`` from gamsi.streams.rules.nodata.tick)."""
    transition, severity, since = change
    raised = transition == "raise"
    what = item + (f" {instance}" if instance else "")
    message = (
        f"{host}: no data for {what} for {after:g} s: {Severity(severity).name}"
        if raised
        else f"{host}: data for {what} is back after no data since {since:.0f}"
    )
    watch = name + NODATA_SUFFIX
    return SeverityEvent(
        event_id=event_id(host, watch, item, instance, transition, since),
        host=host,
        item=item,
        instance=instance,
        watch=watch,
        severity=severity if raised else 0,
        previous=0 if raised else severity,
        transition=transition,
        value=0.0,
        threshold=after,
        ts=since if raised else now,
        since=since if raised else 0.0,
        message=message,
        tags=list(tags),
    )


def closing_events(
    name: str, instance: str, st: Series, host: str, t: float, why: str, tags: list[str],
    nodata: bool = True,
) -> list[SeverityEvent]:  # fmt: skip
    """Recoveries for whatever ``st`` has open (its value problem, its no-data problem)
    when the series ends: ``why`` is ``"policy"`` (the watch no longer applies as it
    was) or ``"gone"`` (the instance stopped being reported). Each names the series in
    full from what the state recorded when the problem opened. ``nodata=False`` closes
    the value problem only (a missing series' no-data condition is what it is for)."""
    item, value, threshold = st.open if st.open is not None else ("", 0.0, 0.0)
    what = item + (f" {instance}" if instance else "")
    text = {
        "policy": f"watch {name} no longer applies as it was (policy change)",
        "gone": f"{what} is no longer reported (instance gone)",
    }[why]
    out = []
    nd_active = st.nd.active if nodata and st.nd is not None else 0
    for watch, previous in ((name, st.sev), (name + NODATA_SUFFIX, nd_active)):
        if not previous:
            continue
        out.append(
            SeverityEvent(
                event_id=event_id(host, watch, item, instance, "recover", t, 0, why),
                host=host,
                item=item,
                instance=instance,
                watch=watch,
                severity=0,
                previous=previous,
                transition="recover",
                value=value if watch == name else 0.0,
                threshold=threshold if watch == name else 0.0,
                ts=t,
                message=f"{host}: {text}: {Severity(previous).name} closed [{watch}]",
                tags=list(tags),
            )
        )
    return out
