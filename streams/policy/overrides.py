"""Overrides: change some fields of a named watch for some hosts."""

from __future__ import annotations

from typing import Any

from gamsi.streams.policy.dump import watch_to_dict
from gamsi.streams.policy.model import Override, Watch
from gamsi.streams.policy.values import Reader, join
from gamsi.streams.policy.watches import OVERRIDABLE, hosts_from_dict, watch_from_dict

OVERRIDE_KEYS = ("watch", "hosts", "set")


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
