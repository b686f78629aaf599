"""Plain dicts → one validated :class:`Watch` (the same rules for files and the topic).

Every error is a :class:`~gamsi.streams.policy.errors.PolicyError` naming the key path
and what was expected; the loader adds the file's line.
"""

from __future__ import annotations

from itertools import pairwise
from typing import Any

from gamsi.schemas.records import Severity
from gamsi.streams.policy.dump import HOST_KEYS
from gamsi.streams.policy.model import AGGREGATES, OPS, HostSelector, Level, NoData, Watch
from gamsi.streams.policy.remediate import bindings_from_list
from gamsi.streams.policy.values import Reader, join, show

WATCH_KEYS = (
    "name", "item", "instance", "exclude", "hosts", "levels", "duration", "count", "window",
    "aggregate", "hysteresis", "clear", "nodata", "enabled", "description", "origin",
    "remediate",
)  # fmt: skip
LEVEL_KEYS = ("op", "value", "recover")
LEVEL_NAMES = tuple(s.name.lower() for s in Severity if s is not Severity.NORMAL)


def hosts_from_dict(r: Reader, raw: Any, path: str) -> HostSelector:
    """A host selector from ``{names, globs, tags, os}`` (each a list of strings, optional)."""
    d = r.mapping(raw, path, HOST_KEYS)
    return HostSelector(**{k: r.strings(d.get(k), join(path, k)) for k in HOST_KEYS})


def _level(r: Reader, name: str, raw: Any, path: str) -> Level:
    severity = Severity.parse(name)
    if isinstance(raw, str):
        parts = raw.split()
        if len(parts) != 2 or parts[0] not in OPS:
            raise r.fail(
                path, f"expected '<op> <number>' with op one of {' '.join(OPS)}, got {show(raw)}"
            )
        try:
            value = float(parts[1])
        except ValueError:
            raise r.fail(
                path, f"expected a number after {parts[0]!r}, got {show(parts[1])}"
            ) from None
        return Level(severity, parts[0], r.number(value, path))
    d = r.mapping(raw, path, LEVEL_KEYS)
    op = d.get("op")
    if op not in OPS:
        raise r.fail(join(path, "op"), f"expected one of {' '.join(OPS)}, got {show(op)}")
    if "value" not in d:
        raise r.fail(join(path, "value"), "expected the threshold (a number); it is missing")
    recover = d.get("recover")
    return Level(
        severity,
        op,
        r.number(d["value"], join(path, "value")),
        None if recover is None else r.number(recover, join(path, "recover")),
    )


def _levels(r: Reader, raw: Any, path: str) -> tuple[Level, ...]:
    d = r.mapping(raw, path, LEVEL_NAMES)
    levels = tuple(
        sorted((_level(r, k, v, join(path, k)) for k, v in d.items()), key=lambda lv: lv.severity)
    )
    if levels:
        upward = levels[0].upward
        for lv in levels:
            where = join(path, lv.severity.name.lower())
            if lv.upward != upward:
                raise r.fail(
                    where, "expected every level to compare the same way (all > / >= or all < / <=)"
                )
        for lower, higher in pairwise(levels):
            where = join(path, higher.severity.name.lower())
            if (
                (higher.threshold <= lower.threshold)
                if upward
                else (higher.threshold >= lower.threshold)
            ):
                side = "above" if upward else "below"
                raise r.fail(
                    where,
                    f"expected a threshold {side} {lower.severity.name.lower()}'s "
                    f"{lower.threshold:g} (a worse level needs a worse value), "
                    f"got {higher.threshold:g}",
                )
    return levels


def _nodata(r: Reader, raw: Any, path: str) -> NoData | None:
    if raw is None:
        return None
    d = r.mapping(raw, path, ("after", "severity"))
    if "after" not in d:
        raise r.fail(
            join(path, "after"), "expected how long a series may stay silent; it is missing"
        )
    after = r.duration(d["after"], join(path, "after"))
    if after <= 0:
        raise r.fail(join(path, "after"), "expected a duration above 0")
    sev = d.get("severity", "urgent")
    if not isinstance(sev, str) or sev.lower() not in LEVEL_NAMES:
        raise r.fail(
            join(path, "severity"), f"expected one of {', '.join(LEVEL_NAMES)}, got {show(sev)}"
        )
    return NoData(after, Severity.parse(sev))


def watch_from_dict(r: Reader, raw: Any, path: str, origin: str = "") -> Watch:
    """A validated Watch; every error names ``path`` and what was expected."""
    d = r.mapping(raw, path, WATCH_KEYS)
    for key in ("name", "item"):
        if key not in d:
            raise r.fail(join(path, key), "expected a non-empty string; it is missing")
    p = lambda key: join(path, key)  # noqa: E731 - a local shorthand for error paths
    w = Watch(
        name=r.name(d["name"], p("name")),
        item=r.name(d["item"], p("item")),
        levels=_levels(r, d.get("levels"), p("levels")),
        instance=r.string(d.get("instance", "*"), p("instance")),
        exclude=r.strings(d.get("exclude"), p("exclude")),
        hosts=hosts_from_dict(r, d.get("hosts"), p("hosts")),
        duration=r.duration(d.get("duration", 0), p("duration")),
        count=r.count(d.get("count", 1), p("count")),
        window=r.duration(d.get("window", 0), p("window")),
        aggregate=r.string(d.get("aggregate", ""), p("aggregate")),
        hysteresis=r.number(d.get("hysteresis", 0.0), p("hysteresis")),
        clear=r.duration(d.get("clear", 0), p("clear")),
        nodata=_nodata(r, d.get("nodata"), p("nodata")),
        enabled=r.boolean(d.get("enabled", True), p("enabled")),
        description=r.string(d.get("description", ""), p("description")),
        origin=r.string(d.get("origin", origin), p("origin")),
        remediate=bindings_from_list(r, d.get("remediate"), p("remediate")),
    )
    _check_watch(r, w, path)
    return w


def _check_watch(r: Reader, w: Watch, path: str) -> None:
    """Rules that involve several keys of one watch."""
    if "\t" in w.name or "\t" in w.item:
        raise r.fail(join(path, "name"), "expected a name without tab characters")
    if not w.levels and w.nodata is None:
        raise r.fail(join(path, "levels"), "expected at least one level (or a nodata condition)")
    if w.aggregate and w.aggregate not in AGGREGATES:
        raise r.fail(
            join(path, "aggregate"),
            f"expected one of {', '.join(AGGREGATES)}, got {show(w.aggregate)}",
        )
    if w.aggregate and not w.window:
        raise r.fail(
            join(path, "aggregate"),
            f"expected a `window` to {w.aggregate} over (e.g. window: 5m); it is missing",
        )
    if w.window and not w.aggregate and w.duration:
        raise r.fail(
            join(path, "duration"),
            "expected no duration with a counting window: with `window` (and no aggregate) the "
            "watch counts breaching samples inside the window; use `count` alone",
        )
    if w.hysteresis < 0:
        raise r.fail(
            join(path, "hysteresis"), f"expected a number of at least 0, got {w.hysteresis:g}"
        )
    for lv in w.levels:
        if lv.recover is None:
            continue
        if (lv.recover > lv.threshold) if lv.upward else (lv.recover < lv.threshold):
            side = "at or below" if lv.upward else "at or above"
            raise r.fail(
                join(path, f"levels.{lv.severity.name.lower()}.recover"),
                f"expected a recovery threshold {side} the raise threshold {lv.threshold:g}, "
                f"got {lv.recover:g}",
            )
