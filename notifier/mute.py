"""The mute stage: maintenance windows that cover a host or tag suppress its notifications.

Suppressed deliveries are not dropped silently: the pipeline records each one in the
delivery log with result ``suppressed`` and the window's name as the error text,
so "why did nobody hear about it" has an answer.
"""

from __future__ import annotations

from gamsi.notifier.routing import Maintenance, RoutingConfig
from gamsi.schemas.records import SeverityEvent


def muted_by(config: RoutingConfig, event: SeverityEvent, now: float) -> Maintenance | None:
    for window in config.maintenance:
        if window.covers(event, now):
            return window
    return None
