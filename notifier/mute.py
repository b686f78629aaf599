"""The mute stage: maintenance windows and silences that cover an event suppress its
notifications. One mechanism for both, used on every path that sends (new events,
re-notifications, escalation steps, remediation escalations, held recoveries) and by
the remediator, which skips recovery scripts for what is muted.

Maintenance windows are planned in the routing file (one-off or recurring, by host or
tag); silences are made on the spot from the command line (:mod:`gamsi.notifier.silences`,
every matcher must hold). Suppressed deliveries are not dropped silently: the pipeline
records each one in the delivery log with result ``suppressed`` and :attr:`Mute.text`
as the error text (``maintenance patch night`` or ``silence 3f2a9c1e until 2026-12-01
05:00 UTC by kim: disk swap``), so "why did nobody hear about it" has an answer.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from gamsi.notifier.routing import Maintenance, RoutingConfig
from gamsi.notifier.silences import Silence, SilenceBook
from gamsi.schemas.records import SeverityEvent


@dataclass(frozen=True)
class Mute:
    """What mutes an event now: a maintenance window or a silence, and how to say so."""

    kind: str
    """``maintenance`` or ``silence``."""
    name: str
    """The window's name, or the silence's id."""
    text: str
    """For the delivery log and route-test: ``maintenance NAME`` or the silence's
    :meth:`~gamsi.notifier.silences.Silence.describe`."""

    @classmethod
    def of_window(cls, window: Maintenance) -> Mute:
        return cls("maintenance", window.name, f"maintenance {window.name}")

    @classmethod
    def of_silence(cls, silence: Silence) -> Mute:
        return cls("silence", silence.id, silence.describe())


def muted_by(
    config: RoutingConfig | None,
    event: SeverityEvent,
    now: float,
    silences: SilenceBook | None = None,
) -> Mute | None:
    """The maintenance window (first in file order) or else the silence (ending last)
    that covers ``event`` at ``now`` (epoch seconds), or None when nothing mutes it."""
    for window in config.maintenance if config is not None else ():
        if window.covers(event, now):
            return Mute.of_window(window)
    silence = silences.covering(event, now) if silences is not None else None
    return Mute.of_silence(silence) if silence is not None else None


def every_mute(
    config: RoutingConfig | None, event: SeverityEvent, now: float, silences: Iterable[Silence]
) -> list[Mute]:
    """Every window and silence that covers ``event`` at ``now`` (for route-test)."""
    out = [
        Mute.of_window(w)
        for w in (config.maintenance if config is not None else ())
        if w.covers(event, now)
    ]
    return out + [Mute.of_silence(s) for s in silences if s.covers(event, now)]
