"""Which watches apply to one host, and where each one came from.

The rule: walk the policy's watches in order and keep those whose ``hosts``
selector matches; a later watch with the same name replaces the earlier one;
then apply, in order, every override whose selector matches and that names a
kept watch. The origin chain records each step, so ``gamsi policy show --host``
can say "defaults/linux.yaml: watches[3], replaced by policy.yaml: watches[0],
overridden by policy.yaml: overrides[1]".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from gamsi.streams.policy.errors import PolicyError
from gamsi.streams.policy.model import Override, Policy, Watch
from gamsi.streams.policy.values import Reader


@dataclass(frozen=True, slots=True)
class Effective:
    """One watch as it applies to one host, with the chain of places that shaped it."""

    watch: Watch
    origins: tuple[str, ...]


def effective_watches(
    policy: Policy, host: str, os_name: str, tags: Sequence[str]
) -> list[Effective]:
    """All watches for ``host`` (enabled or not) in policy order."""
    os_name = os_name or policy.default_os
    tags = tuple(tags)
    chosen: dict[str, Effective] = {}
    for w in policy.watches:
        if not w.hosts.matches(host, os_name, tags):
            continue
        before = chosen.get(w.name)
        origins = (w.origin,) if before is None else (*before.origins, f"replaced by {w.origin}")
        chosen[w.name] = Effective(w, origins)
    for o in policy.overrides:
        current = chosen.get(o.watch)
        if current is None or not o.hosts.matches(host, os_name, tags):
            continue
        variant = o.variants.get(current.watch.origin) if _plain_base(current) else None
        if variant is None:
            variant, note = _stack(current.watch, o)
        else:
            note = f"overridden by {o.origin}"
        chosen[o.watch] = Effective(variant, (*current.origins, note))
    return list(chosen.values())


def _plain_base(current: Effective) -> bool:
    """True while no override has been applied yet (the loader's variants are exact)."""
    return not any(step.startswith("overridden by") for step in current.origins)


def _stack(watch: Watch, o: Override) -> tuple[Watch, str]:
    """Apply a second override on top of a first; keep the first if the mix is invalid."""
    from gamsi.streams.policy.dump import watch_to_dict
    from gamsi.streams.policy.overrides import patch_watch
    from gamsi.streams.policy.watches import watch_from_dict

    merged = patch_watch(watch_to_dict(watch, origin=True), o.changes, o.replace)
    try:
        return watch_from_dict(Reader(o.origin), merged, "set"), f"overridden by {o.origin}"
    except PolicyError as exc:
        return watch, f"ignored {o.origin}: with the earlier overrides {exc.message}"


def enabled_watches(policy: Policy, host: str, os_name: str, tags: Sequence[str]) -> list[Watch]:
    """The enabled effective watches of one host (what the engine judges it by)."""
    return [e.watch for e in effective_watches(policy, host, os_name, tags) if e.watch.enabled]
