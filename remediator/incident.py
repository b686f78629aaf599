"""An incident and a command in flight: the decider's units of state, and their helpers.

An **incident** is one problem (host, watch, item, instance) from its raise to its
recovery; its id is the problem key plus the time the problem began, so a later raise
of the same problem is a new incident with fresh attempt counts.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from gamsi.remediator.records import Remediation
from gamsi.schemas.records import Severity, SeverityEvent


@dataclass
class Incident:
    id: str
    event: SeverityEvent
    attempts: dict[str, int] = field(default_factory=dict)
    stopped: set[str] = field(default_factory=set)
    waiting: dict[str, float] = field(default_factory=dict)
    last: dict[str, Remediation] = field(default_factory=dict)
    noted: set[str] = field(default_factory=set)


@dataclass
class Inflight:
    incident: str
    host: str
    script: str
    deadline: float


def template_fields(event: SeverityEvent) -> dict[str, str]:
    """The event fields a binding's argument templates may use, as text."""
    return {
        "host": event.host,
        "item": event.item,
        "instance": event.instance,
        "value": f"{event.value:g}",
        "severity": Severity(event.severity).name.lower(),
        "watch": event.watch,
    }


def event_of(row: Remediation) -> SeverityEvent:
    """Enough of the incident's event to re-evaluate it after a restart."""
    since = float(row.incident.rsplit("|", 1)[-1]) if "|" in row.incident else row.ts
    return SeverityEvent(
        event_id=row.event_id,
        host=row.host,
        item=row.item,
        instance=row.instance,
        watch=row.watch,
        severity=row.severity,
        previous=0,
        transition="raise",
        value=row.value,
        threshold=0.0,
        ts=row.ts,
        since=since,
        tags=list(row.tags),
    )
