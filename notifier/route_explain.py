"""`gamsi notifier route-test`: who would be told about an event, how, and who not and why.

Like Alertmanager's ``amtool config routes test``, but it goes down to contacts: for
an event made from the options (host, severity, watch, item, tags) at a given time,
it walks the routing file with the notifier's own stages — :func:`matching_routes`,
:func:`choices` (each contact's severities and hours), :func:`muted_by` (maintenance
and silences) and the fallback (:func:`unreached`, :func:`fallback_deliveries`) — so
what it prints is what the pipeline would do, not a second implementation of it.

Each line is a verdict: ``told`` (a delivery would go out), ``not told`` (the
contact's severity filter or hours, or an address already taken on that route),
``suppressed`` (a maintenance window or a silence covers the event), ``fallback``
(nobody on the matching routes would hear it), or a route that does not match or
was not tried after a ``stop: true``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from gamsi.notifier.mute import Mute, every_mute
from gamsi.notifier.route import (
    FALLBACK_CHANNEL,
    choices,
    fallback_deliveries,
    kind_of,
    matching_routes,
    route_names,
    unreached,
)
from gamsi.notifier.routing import Match, RoutingConfig
from gamsi.notifier.silences import Silence
from gamsi.schemas.records import Severity, SeverityEvent
from gamsi.settings import ConfigError


@dataclass(frozen=True)
class Line:
    """One verdict: ``verdict`` is told, not told, suppressed, fallback, no match or
    not tried; ``reason`` says why (empty for told)."""

    verdict: str
    route: str
    recipient: str = ""
    channel: str = ""
    to: str = ""
    reason: str = ""


@dataclass
class Report:
    """What route-test found for one event at one time."""

    event: SeverityEvent
    at: float
    lines: list[Line] = field(default_factory=list)
    mutes: list[Mute] = field(default_factory=list)

    @property
    def told(self) -> list[Line]:
        return [x for x in self.lines if x.verdict in {"told", "fallback"}]


def probe_event(
    host: str, severity: str, *, watch: str = "", item: str = "", tags: tuple[str, ...] = ()
) -> SeverityEvent:
    """The raise route-test reasons about; raises ConfigError for an unknown severity."""
    try:
        level = int(Severity.parse(severity))
    except ValueError as exc:
        raise ConfigError(f"--severity: {exc}") from None
    if level == 0:
        raise ConfigError("--severity: expected a level above normal (what is raised)")
    return SeverityEvent(
        event_id="route-test", host=host, item=item, watch=watch, severity=level, previous=0,
        transition="raise", ts=0.0, tags=list(tags), instance="", value=0.0, threshold=0.0,
    )  # fmt: skip


def parse_at(text: str | None, default_tz: ZoneInfo) -> float:
    """``2026-12-01 03:00 Asia/Seoul``, ``2026-12-01T03:00+09:00`` or ``2026-12-01 03:00``
    (read in ``default_tz``) as epoch seconds; None: now. Raises ConfigError."""
    if not text:
        return time.time()
    words = text.split()
    tz = default_tz
    if len(words) > 1 and ("/" in words[-1] or words[-1] in {"UTC", "GMT"}):
        try:
            tz = ZoneInfo(words[-1])
        except (ZoneInfoNotFoundError, ValueError):
            raise ConfigError(f"--at: unknown time zone {words[-1]!r}") from None
        words = words[:-1]
    try:
        dt = datetime.fromisoformat(" ".join(words))
    except ValueError:
        raise ConfigError(
            f"--at: expected a date and time such as '2026-12-01 03:00 Asia/Seoul', got {text!r}"
        ) from None
    return (dt if dt.tzinfo else dt.replace(tzinfo=tz)).timestamp()


def mismatch(match: Match, event: SeverityEvent) -> str:
    """Why a route's ``match`` does not take ``event`` ('' when it does)."""
    if event.severity < match.min_severity:
        return f"min_severity {Severity(match.min_severity).name.lower()}"
    for name, values in (("watches", [event.watch]), ("items", [event.item])):
        if not Match(**{name: getattr(match, name)}).matches(event):
            return f"{name} {list(getattr(match, name))} do not match {values[0]!r}"
    if not Match(hosts=match.hosts).matches(event):
        return f"hosts {list(match.hosts)} do not match {event.host!r}"
    return f"tags {list(match.tags)}: the host has {event.tags or 'none'}"


def explain(
    config: RoutingConfig, event: SeverityEvent, now: float, silences: list[Silence]
) -> Report:
    """Every route, recipient and contact ``event`` would meet at ``now`` and the verdict."""
    report = Report(event, now, mutes=every_mute(config, event, now, silences))
    matched = matching_routes(config, event)
    kind = kind_of(event)
    stopped = False
    for route in config.routes:
        if stopped:
            report.lines.append(Line("not tried", route.name, reason="an earlier route stops"))
            continue
        if route not in matched:
            report.lines.append(Line("no match", route.name, reason=mismatch(route.match, event)))
            continue
        stopped = route.stop
        for c in choices(config, event, route, route_names(route, {}), now, kind):
            verdict = "not told" if c.reason else "told"
            if verdict == "told" and report.mutes:
                verdict, c_reason = "suppressed", report.mutes[0].text
            else:
                c_reason = c.reason
            report.lines.append(
                Line(verdict, route.name, c.recipient, c.contact.channel, c.contact.to, c_reason)
            )
    if unreached(config, event, now, {}):
        for d in fallback_deliveries(config, event):
            verdict = "suppressed" if report.mutes else "fallback"
            why = report.mutes[0].text if report.mutes else "no contact on the matching routes"
            channel = "console (the log)" if d.contact.channel == FALLBACK_CHANNEL else ""
            report.lines.append(
                Line(verdict, d.route.name, d.recipient, channel or d.contact.channel,
                     d.contact.to, why)
            )  # fmt: skip
    return report


def render(report: Report, tz: ZoneInfo) -> str:
    """The report as text for a terminal."""
    e = report.event
    when = datetime.fromtimestamp(report.at, tz).strftime("%Y-%m-%d %H:%M %a %Z")
    what = " ".join(f"{k}={v}" for k, v in (("watch", e.watch), ("item", e.item)) if v) + (
        f" tags={','.join(e.tags)}" if e.tags else ""
    )
    out = [f"{Severity(e.severity).name} raise on {e.host} {what}".rstrip() + f" at {when}"]
    for mute in report.mutes:
        out.append(f"  muted: {mute.text}")
    for x in report.lines:
        if x.verdict in {"no match", "not tried"}:
            out.append(f"  route {x.route}: {x.verdict} ({x.reason})")
            continue
        where = f"{x.channel} {x.to}".strip()
        why = f" — {x.reason}" if x.reason else ""
        out.append(f"  {x.verdict:<10} route {x.route}: {x.recipient} via {where}{why}")
    if not any(x.verdict in {"told", "fallback", "suppressed", "not told"} for x in report.lines):
        out.append("  no route matches: nobody would be told")
    told = len(report.told)
    out.append(f"{told} deliver{'y' if told == 1 else 'ies'} would go out")
    return "\n".join(out)
