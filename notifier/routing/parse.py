"""Parsing the routing file into :mod:`gamsi.notifier.routing.model`, strictly.

YAML, read by :func:`gamsi.files.read_yaml_document` (a key given twice is an
error, a syntax error names its line) and validated at load: an unknown key, a
wrong type, a recipient or channel that does not exist is a :class:`ConfigError`
naming the file, the key path and what was expected, the same contract as
Gamsi's TOML settings. Durations are read by :mod:`gamsi.durations`.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from gamsi.config_fields import ConfigError
from gamsi.files import Document, read_yaml_document
from gamsi.notifier.options import check_keys, get_bool, get_str, get_str_list, parse_duration
from gamsi.notifier.routing.model import (
    Contact,
    Escalation,
    Maintenance,
    Match,
    Recipient,
    Route,
    RoutingConfig,
)
from gamsi.notifier.schedule import parse_instant, parse_window, parse_zone
from gamsi.schemas.records import Severity

TOP_KEYS = {"defaults", "channels", "recipients", "routes", "maintenance"}


def _mapping(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: expected a mapping, got {type(value).__name__}")
    return value


def _severity(value: Any, where: str) -> int:
    try:
        return int(Severity.parse(str(value)))
    except ValueError as exc:
        raise ConfigError(f"{where}: {exc}") from None


def _severities(value: Any, where: str) -> frozenset[int] | None:
    names = value if isinstance(value, list) else [value]
    return None if value is None else frozenset(_severity(n, where) for n in names)


def _contact(raw: Any, tz: ZoneInfo, channels: dict[str, Any], where: str) -> Contact:
    spec = _mapping(raw, where)
    check_keys(spec, {"channel", "to", "days", "hours", "timezone", "severities"}, where)
    channel = get_str(spec, "channel", where)
    if channel not in channels:
        raise ConfigError(
            f"{where}.channel: unknown channel {channel!r}; expected one of "
            f"{', '.join(sorted(channels)) or '(none declared under channels:)'}"
        )
    timed = any(k in spec for k in ("days", "hours", "timezone"))
    return Contact(
        channel=channel,
        to=get_str(spec, "to", where, ""),
        window=parse_window(spec, tz, where) if timed else None,
        severities=_severities(spec.get("severities"), f"{where}.severities"),
    )


def _recipient(
    name: str, raw: Any, tz: ZoneInfo, channels: dict[str, Any], where: str
) -> Recipient:
    spec = _mapping(raw, where)
    check_keys(spec, {"timezone", "contacts", "members"}, where)
    own_tz = parse_zone(spec["timezone"], f"{where}.timezone") if "timezone" in spec else tz
    contacts = spec.get("contacts", [])
    if not isinstance(contacts, list):
        raise ConfigError(f"{where}.contacts: expected a list of contacts")
    return Recipient(
        name=name,
        contacts=tuple(
            _contact(c, own_tz, channels, f"{where}.contacts[{i}]") for i, c in enumerate(contacts)
        ),
        members=tuple(get_str_list(spec, "members", where)),
    )


def _known(names: Any, recipients: dict[str, Recipient], where: str) -> None:
    for name in names:
        if name not in recipients:
            raise ConfigError(
                f"{where}: unknown recipient {name!r}; expected one of "
                f"{', '.join(sorted(recipients)) or '(none declared under recipients:)'}"
            )


ROUTE_KEYS = {
    *("name", "match", "recipients", "notify_recovery"),
    *("renotify_every", "group_window", "escalate", "stop"),
}


def _route(raw: Any, recipients: dict[str, Recipient], where: str) -> Route:
    spec = _mapping(raw, where)
    check_keys(spec, ROUTE_KEYS, where)
    match_spec = _mapping(spec.get("match", {}), f"{where}.match")
    check_keys(match_spec, {"min_severity", "watches", "items", "hosts", "tags"}, f"{where}.match")
    match = Match(
        min_severity=_severity(
            match_spec.get("min_severity", "harmless"), f"{where}.match.min_severity"
        ),
        **{
            k: tuple(get_str_list(match_spec, k, f"{where}.match"))
            for k in ("watches", "items", "hosts", "tags")
        },
    )
    names = tuple(get_str_list(spec, "recipients", where))
    escalations = []
    for i, step in enumerate(spec.get("escalate", []) or []):
        sw = f"{where}.escalate[{i}]"
        step = _mapping(step, sw)
        check_keys(step, {"after", "recipients"}, sw)
        if "after" not in step:
            raise ConfigError(f"{sw}.after: required, expected a duration such as 15m")
        escalations.append(
            Escalation(
                parse_duration(step["after"], f"{sw}.after"),
                tuple(get_str_list(step, "recipients", sw)),
            )
        )
    _known([*names, *(n for e in escalations for n in e.recipients)], recipients,
           f"{where}.recipients")  # fmt: skip
    if not names:
        raise ConfigError(f"{where}.recipients: expected at least one recipient")
    group = spec.get("group_window")
    return Route(
        name=get_str(spec, "name", where),
        match=match,
        recipients=names,
        notify_recovery=get_bool(spec, "notify_recovery", where, True),
        renotify_every=parse_duration(spec.get("renotify_every", 0), f"{where}.renotify_every"),
        group_window=None if group is None else parse_duration(group, f"{where}.group_window"),
        escalations=tuple(sorted(escalations, key=lambda e: e.after)),
        stop=get_bool(spec, "stop", where, False),
    )


def _maintenance(raw: Any, tz: ZoneInfo, where: str) -> Maintenance:
    spec = _mapping(raw, where)
    check_keys(spec, {"name", "hosts", "tags", "start", "end", "days", "hours", "timezone"}, where)
    hosts, tags = (
        tuple(get_str_list(spec, "hosts", where)),
        tuple(get_str_list(spec, "tags", where)),
    )
    if not hosts and not tags:
        raise ConfigError(f"{where}: expected hosts or tags (what the window covers)")
    own_tz = parse_zone(spec["timezone"], f"{where}.timezone") if "timezone" in spec else tz
    recurring = "days" in spec or "hours" in spec
    if recurring and ("start" in spec or "end" in spec):
        raise ConfigError(f"{where}: give either start/end (one-off) or days/hours (recurring)")
    if not recurring and ("start" not in spec or "end" not in spec):
        raise ConfigError(f"{where}: a one-off window needs start and end (ISO date-times)")
    start = end = None
    if not recurring:
        start = parse_instant(spec["start"], own_tz, f"{where}.start")
        end = parse_instant(spec["end"], own_tz, f"{where}.end")
        if end <= start:
            raise ConfigError(f"{where}.end: expected a time after start")
    return Maintenance(
        name=get_str(spec, "name", where),
        hosts=hosts,
        tags=tags,
        start=start,
        end=end,
        window=parse_window(spec, own_tz, where) if recurring else None,
    )


def parse_routing(data: Any, source: str) -> RoutingConfig:
    """Validate a decoded routing document; ``source`` prefixes every error."""
    root = _mapping(data if data is not None else {}, source)
    check_keys(root, TOP_KEYS, source)
    defaults = _mapping(root.get("defaults", {}), f"{source}: defaults")
    check_keys(
        defaults, {"timezone", "group_window", "renotify_every", "fallback"}, f"{source}: defaults"
    )
    tz = parse_zone(defaults.get("timezone", "UTC"), f"{source}: defaults.timezone")
    channels: dict[str, dict[str, Any]] = {}
    for name, spec in _mapping(root.get("channels", {}), f"{source}: channels").items():
        where = f"{source}: channels.{name}"
        spec = _mapping(spec, where)
        get_str(spec, "type", where)
        channels[str(name)] = dict(spec)
    recipients = {
        str(name): _recipient(str(name), spec, tz, channels, f"{source}: recipients.{name}")
        for name, spec in _mapping(root.get("recipients", {}), f"{source}: recipients").items()
    }
    for r in recipients.values():
        for member in r.members:
            if member not in recipients:
                raise ConfigError(
                    f"{source}: recipients.{r.name}.members: unknown recipient {member!r}"
                )
    fallback = tuple(get_str_list(defaults, "fallback", f"{source}: defaults"))
    _known(fallback, recipients, f"{source}: defaults.fallback")
    raw_routes = root.get("routes", [])
    if not isinstance(raw_routes, list):
        raise ConfigError(f"{source}: routes: expected a list of routes")
    routes = tuple(
        _route(r, recipients, f"{source}: routes[{i}]") for i, r in enumerate(raw_routes)
    )
    seen: set[str] = set()
    for i, route in enumerate(routes):
        if route.name in seen:
            raise ConfigError(f"{source}: routes[{i}].name: duplicate route name {route.name!r}")
        seen.add(route.name)
    raw_mw = root.get("maintenance", [])
    if not isinstance(raw_mw, list):
        raise ConfigError(f"{source}: maintenance: expected a list of windows")
    group = defaults.get("group_window")
    return RoutingConfig(
        channels=channels,
        recipients=recipients,
        routes=routes,
        maintenance=tuple(
            _maintenance(m, tz, f"{source}: maintenance[{i}]") for i, m in enumerate(raw_mw)
        ),
        source=source,
        group_window=None
        if group is None
        else parse_duration(group, f"{source}: defaults.group_window"),
        renotify_every=parse_duration(
            defaults.get("renotify_every", 0), f"{source}: defaults.renotify_every"
        ),
        timezone=tz,
        fallback=fallback,
    )


def load_routing(path: str | Path) -> RoutingConfig:
    """The routing file at ``path``, validated; raises :class:`ConfigError` ``FILE:LINE: ...``.

    Every error names the file, and the line of the key it is about when that key is
    in the file (a missing key: the line of the nearest enclosing one).
    """
    doc = read_yaml_document(path, "routing file")
    try:
        return parse_routing(doc.data, doc.source)
    except ConfigError as exc:
        raise ConfigError(_with_line(str(exc), doc)) from None


_KEY_PATH = re.compile(r"[\w.\[\]-]+")


def _with_line(message: str, doc: Document) -> str:
    """``FILE: PATH...`` → ``FILE:LINE: PATH...`` using the document's key-path lines."""
    prefix = f"{doc.source}: "
    if not message.startswith(prefix):
        return message
    rest = message[len(prefix) :]
    path = _KEY_PATH.match(rest)
    line = doc.line_of(path.group(0)) if path else None
    return f"{doc.source}:{line}: {rest}" if line else message
