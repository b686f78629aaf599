"""Plain dicts ⇄ policy records, with strict validation on the way in.

The same functions read YAML files (after parsing) and policies that travel on a
compacted Kafka topic, so there is one definition of what a valid watch is.
``*_to_dict`` emits the canonical form (defaults left out, durations as ``5m``),
which ``*_from_dict`` reads back to an equal record.
"""

from __future__ import annotations

from dataclasses import replace
from itertools import pairwise
from typing import Any

from gamsi.schemas.records import Severity
from gamsi.streams.policy.model import (
    AGGREGATES,
    OPS,
    HostSelector,
    Level,
    NoData,
    Override,
    Policy,
    Watch,
)
from gamsi.streams.policy.values import Reader, format_duration, join

WATCH_KEYS = (
    "name", "item", "instance", "exclude", "hosts", "levels", "duration", "count", "window",
    "aggregate", "hysteresis", "clear", "nodata", "enabled", "description", "origin",
)  # fmt: skip
OVERRIDABLE = tuple(k for k in WATCH_KEYS if k not in ("name", "item", "origin"))
HOST_KEYS = ("names", "globs", "tags", "os")
LEVEL_KEYS = ("op", "value", "recover")
POLICY_KEYS = ("version", "use_defaults", "processors", "watches", "overrides")
OVERRIDE_KEYS = ("watch", "hosts", "set")
LEVEL_NAMES = tuple(s.name.lower() for s in Severity if s is not Severity.NORMAL)


def hosts_from_dict(r: Reader, raw: Any, path: str) -> HostSelector:
    d = r.mapping(raw, path, HOST_KEYS)
    return HostSelector(**{k: r.strings(d.get(k), join(path, k)) for k in HOST_KEYS})


def _level(r: Reader, name: str, raw: Any, path: str) -> Level:
    severity = Severity.parse(name)
    if isinstance(raw, str):
        parts = raw.split()
        if len(parts) != 2 or parts[0] not in OPS:
            raise r.fail(
                path, f"expected '<op> <number>' with op one of {' '.join(OPS)}, got {raw!r}"
            )
        try:
            value = float(parts[1])
        except ValueError:
            raise r.fail(path, f"expected a number after {parts[0]!r}, got {parts[1]!r}") from None
        return Level(severity, parts[0], r.number(value, path))
    d = r.mapping(raw, path, LEVEL_KEYS)
    op = d.get("op")
    if op not in OPS:
        raise r.fail(join(path, "op"), f"expected one of {' '.join(OPS)}, got {op!r}")
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
            join(path, "severity"), f"expected one of {', '.join(LEVEL_NAMES)}, got {sev!r}"
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
        name=r.string(d["name"], p("name"), empty=False),
        item=r.string(d["item"], p("item"), empty=False),
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
            join(path, "aggregate"), f"expected one of {', '.join(AGGREGATES)}, got {w.aggregate!r}"
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


def override_from_dict(r: Reader, raw: Any, path: str, watches: tuple[Watch, ...]) -> Override:
    d = r.mapping(raw, path, OVERRIDE_KEYS)
    name = r.string(d.get("watch"), join(path, "watch"), empty=False)
    targets = [w for w in watches if w.name == name]
    if not targets:
        known = ", ".join(sorted({w.name for w in watches})) or "(none)"
        raise r.fail(
            join(path, "watch"), f"expected the name of a watch; {name!r} is none of: {known}"
        )
    changes = r.mapping(d.get("set"), join(path, "set"), OVERRIDABLE)
    if not changes:
        raise r.fail(join(path, "set"), "expected the keys to change; it is empty or missing")
    origin = f"{r.source}: {path}"
    variants = {}
    for w in targets:
        merged = {**watch_to_dict(w), **changes, "origin": w.origin}
        variants[w.origin] = watch_from_dict(r, merged, join(path, "set"))
    return Override(
        name, hosts_from_dict(r, d.get("hosts"), join(path, "hosts")), changes, origin, variants
    )


def policy_from_dict(
    raw: Any, source: str = "<dict>", base: tuple[Watch, ...] = (), *, unique: bool = True
) -> tuple[Policy, bool]:
    """A Policy from one document, and whether it asks for the OS defaults (``use_defaults``).

    ``base`` are the watches that come before this document (the defaults, earlier files):
    overrides may name them. ``unique`` rejects two watches with the same name and hosts in
    one file (a copy-paste slip); a flattened policy from the topic legitimately has them.
    """
    from gamsi.streams.rules.registry import check_processors

    r = Reader(source)
    d = r.mapping(raw, "", POLICY_KEYS)
    version = d.get("version", 1)
    if version != 1:
        raise r.fail("version", f"expected 1 (the only policy format so far), got {version!r}")
    raw_watches = d.get("watches") or []
    if not isinstance(raw_watches, list):
        raise r.fail("watches", f"expected a list of watches, got {type(raw_watches).__name__}")
    watches = []
    seen: dict[str, str] = {}
    for i, item in enumerate(raw_watches):
        w = watch_from_dict(r, item, f"watches[{i}]", f"{source}: watches[{i}]")
        key = f"{w.name}\t{w.hosts!r}"
        if unique and key in seen:
            raise r.fail(
                f"watches[{i}].name",
                f"expected a unique name for the same hosts; {w.name!r} is already {seen[key]} "
                "(use `overrides` to change a watch for some hosts)",
            )
        seen[key] = f"watches[{i}]"
        watches.append(w)
    raw_overrides = d.get("overrides") or []
    if not isinstance(raw_overrides, list):
        raise r.fail(
            "overrides", f"expected a list of overrides, got {type(raw_overrides).__name__}"
        )
    every = (*base, *watches)
    overrides = tuple(
        override_from_dict(r, o, f"overrides[{i}]", every) for i, o in enumerate(raw_overrides)
    )
    processors_raw = r.mapping(d.get("processors"), "processors", _any_key(d.get("processors")))
    processors = {
        str(name): r.mapping(params, f"processors.{name}", _any_key(params))
        for name, params in processors_raw.items()
    }
    check_processors(r, processors)
    use_defaults = r.boolean(d.get("use_defaults", True), "use_defaults")
    return Policy(tuple(watches), overrides, processors, sources=(source,)), use_defaults


def _any_key(value: Any) -> tuple[str, ...]:
    return tuple(value) if isinstance(value, dict) else ()


def level_to_dict(lv: Level) -> dict[str, Any]:
    out: dict[str, Any] = {"op": lv.op, "value": lv.threshold}
    if lv.recover is not None:
        out["recover"] = lv.recover
    return out


def hosts_to_dict(h: HostSelector) -> dict[str, list[str]]:
    return {k: list(getattr(h, k)) for k in HOST_KEYS if getattr(h, k)}


def watch_to_dict(w: Watch, *, origin: bool = False) -> dict[str, Any]:
    """The canonical plain form: only keys that differ from their defaults."""
    out: dict[str, Any] = {"name": w.name, "item": w.item}
    if w.instance != "*":
        out["instance"] = w.instance
    if w.exclude:
        out["exclude"] = list(w.exclude)
    if not w.hosts.everywhere:
        out["hosts"] = hosts_to_dict(w.hosts)
    if w.levels:
        out["levels"] = {lv.severity.name.lower(): level_to_dict(lv) for lv in w.levels}
    for key in ("duration", "window", "clear"):
        if getattr(w, key):
            out[key] = format_duration(getattr(w, key))
    if w.count != 1:
        out["count"] = w.count
    if w.aggregate:
        out["aggregate"] = w.aggregate
    if w.hysteresis:
        out["hysteresis"] = w.hysteresis
    if w.nodata:
        out["nodata"] = {
            "after": format_duration(w.nodata.after),
            "severity": w.nodata.severity.name.lower(),
        }
    if not w.enabled:
        out["enabled"] = False
    if w.description:
        out["description"] = w.description
    if origin and w.origin:
        out["origin"] = w.origin
    return out


def policy_to_dict(policy: Policy) -> dict[str, Any]:
    """A self-contained plain dict (defaults already folded in) for a compacted topic."""
    return {
        "version": 1,
        "use_defaults": False,
        "processors": {k: dict(v) for k, v in policy.processors.items()},
        "watches": [watch_to_dict(w, origin=True) for w in policy.watches],
        "overrides": [
            {"watch": o.watch, "hosts": hosts_to_dict(o.hosts), "set": dict(o.changes)}
            for o in policy.overrides
        ],
        "default_os": policy.default_os,
    }


def policy_from_plain(raw: dict[str, Any], source: str = "<topic>") -> Policy:
    """Read back what :func:`policy_to_dict` wrote (the inverse, for the policy topic)."""
    body = dict(raw)
    default_os = body.pop("default_os", "")
    policy, _ = policy_from_dict(body, source, unique=False)
    return replace(policy, default_os=str(default_os))
