"""Plain dicts → a validated :class:`Policy`, for YAML documents and the policy topic.

The same functions read YAML files (after parsing) and policies that travel on a
compacted Kafka topic, so there is one definition of what a valid policy is.
:mod:`gamsi.streams.policy.dump` writes the canonical form back.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from gamsi.streams.policy.limits import MAX_OVERRIDES, MAX_WATCHES
from gamsi.streams.policy.model import Policy, Watch
from gamsi.streams.policy.overrides import override_from_dict
from gamsi.streams.policy.values import Reader, show
from gamsi.streams.policy.watches import watch_from_dict

POLICY_KEYS = ("version", "use_defaults", "processors", "watches", "overrides")


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
        raise r.fail("version", f"expected 1 (the only policy format so far), got {show(version)}")
    raw_watches = d.get("watches") or []
    if not isinstance(raw_watches, list):
        raise r.fail("watches", f"expected a list of watches, got {type(raw_watches).__name__}")
    if len(base) + len(raw_watches) > MAX_WATCHES:
        raise r.fail(
            "watches",
            f"expected at most {MAX_WATCHES:,} watches in a policy (defaults and earlier files "
            f"included), got {len(base) + len(raw_watches):,}: select hosts with globs and tags "
            "instead of one watch per host",
        )
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
    if len(raw_overrides) > MAX_OVERRIDES:
        raise r.fail(
            "overrides", f"expected at most {MAX_OVERRIDES:,} overrides, got {len(raw_overrides):,}"
        )
    by_name: dict[str, list[Watch]] = {}
    for w in (*base, *watches):
        by_name.setdefault(w.name, []).append(w)
    overrides = tuple(
        override_from_dict(r, o, f"overrides[{i}]", by_name) for i, o in enumerate(raw_overrides)
    )
    processors_raw = r.mapping(d.get("processors"), "processors", _any_key(d.get("processors")))
    processors = {
        r.name(name, "processors"): r.mapping(params, f"processors.{name}", _any_key(params))
        for name, params in processors_raw.items()
    }
    check_processors(r, processors)
    use_defaults = r.boolean(d.get("use_defaults", True), "use_defaults")
    return Policy(tuple(watches), overrides, processors, sources=(source,)), use_defaults


def _any_key(value: Any) -> tuple[str, ...]:
    return tuple(value) if isinstance(value, dict) else ()


def policy_from_plain(raw: dict[str, Any], source: str = "<topic>") -> Policy:
    """Read back what :func:`policy_to_dict` wrote (the inverse, for the policy topic)."""
    body = dict(raw)
    default_os = body.pop("default_os", "")
    policy, _ = policy_from_dict(body, source, unique=False)
    return replace(policy, default_os=str(default_os))
