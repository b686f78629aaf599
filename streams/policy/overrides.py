"""Overrides: change some fields of a named watch for some hosts, and keep the rest.

An override's ``set`` is a *patch* on the watch, not a replacement of the keys it
names. Scalars (``clear``, ``count``, ``enabled``, ...) are replaced; the compound
keys merge:

- ``levels`` and ``nodata`` are mappings and merge key by key, as in JSON Merge
  Patch (RFC 7386): ``levels: {danger: ">= 99"}`` changes danger and keeps caution;
  a level given as a mapping (``danger: {recover: 95}``) merges into the level; a
  key set to null (``caution: null``) removes it.
- ``exclude`` is a set of instance globs: the override's globs are added to the
  watch's (RFC 7386 would replace a list; a list of exclusions only ever means
  "also leave these out", and replacing silently watched ``/snap/*`` again).
- ``remediate`` is a list of recovery bindings keyed by ``script``: a binding for a
  script the watch already binds merges into it, a new script is added, others stay.

``replace: [levels]`` (any of :data:`MERGED_KEYS`) replaces those keys whole instead.
The same :func:`patch_watch` builds the loader's variants and stacks a second
override at match time, so ``gamsi policy show --host`` prints what the engine runs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gamsi.streams.policy.dump import watch_to_dict
from gamsi.streams.policy.limits import MAX_NESTING
from gamsi.streams.policy.model import Override, Watch
from gamsi.streams.policy.values import Reader, join, show
from gamsi.streams.policy.watches import WATCH_KEYS, hosts_from_dict, watch_from_dict

OVERRIDE_KEYS = ("watch", "hosts", "set", "replace")
SETTABLE = tuple(k for k in WATCH_KEYS if k not in ("name", "item", "origin", "hosts"))
"""Keys an override may change. ``hosts`` is not one: the override's own ``hosts`` selects
where it applies, and a watch's hosts are changed by redefining the watch."""
MERGED_KEYS = ("levels", "nodata", "exclude", "remediate")
"""Keys an override merges into the watch unless its ``replace`` names them."""


def merge_patch(target: Any, patch: Any, depth: int = MAX_NESTING) -> Any:
    """RFC 7386 JSON Merge Patch: mappings merge recursively, null removes, others replace.

    Merges ``depth`` levels of mappings at most and replaces below (a watch's deepest
    mapping is ``levels`` → a level → its keys), so a patch built from nested YAML
    aliases costs its size in the file, not its expansion. Neither argument is modified.
    """
    if not isinstance(patch, dict) or depth <= 0:
        return patch
    out = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = merge_patch(out.get(key), value, depth - 1)
    return out


def patch_watch(base: dict[str, Any], changes: dict[str, Any], replace: tuple[str, ...]) -> dict:
    """The plain watch ``base`` with an override's ``changes`` applied (see the module doc).

    ``base`` is a plain watch (:func:`~gamsi.streams.policy.dump.watch_to_dict`); the
    result is plain too and still has to be validated with ``watch_from_dict``.
    """
    out = dict(base)
    for key, value in changes.items():
        if key in replace or key not in MERGED_KEYS:
            out[key] = value
        elif value is None:
            out.pop(key, None)
        elif key == "exclude" and isinstance(value, str | list):
            kept = list(out.get(key) or [])
            added = [value] if isinstance(value, str) else value
            out[key] = kept + [g for g in added if g not in kept]
        elif key == "exclude":
            out[key] = value  # not a list: watch_from_dict names the path and what it expected
        elif key == "remediate" and isinstance(value, list):
            out[key] = _merge_bindings(out.get(key) or [], value)
        else:
            out[key] = merge_patch(out.get(key), value)
    return out


def _plain_binding(b: Any) -> Any:
    """A binding with YAML 1.1's reading of a bare ``on:`` key (the boolean true) undone."""
    return {("on" if k is True else k): v for k, v in b.items()} if isinstance(b, dict) else b


def _merge_bindings(base: list[Any], patch: list[Any]) -> list[Any]:
    """Recovery bindings merged by ``script``: a binding naming a script the watch already
    binds is merged into it (``{script: x, cooldown: 1h}`` changes only the cooldown),
    a new script is added, the others stay."""

    def script(b: Any) -> str | None:
        name = b.get("script") if isinstance(b, dict) else None
        return name if isinstance(name, str) else None

    out = [_plain_binding(b) for b in base]
    index = {script(b): i for i, b in enumerate(out) if script(b) is not None}
    for b in map(_plain_binding, patch):
        i = index.get(script(b))
        if i is None:
            out.append(b)
        else:
            out[i] = merge_patch(out[i], b, 1)
    return out


def override_from_dict(
    r: Reader, raw: Any, path: str, watches: Mapping[str, list[Watch]]
) -> Override:
    """A validated override of one of ``watches`` (the watches before it, defaults included,
    by name).

    Every variant (the override applied to each watch of that name) is built and validated
    here, so a broken combination is reported at load with the override's path.
    """
    d = r.mapping(raw, path, OVERRIDE_KEYS)
    name = r.name(d.get("watch"), join(path, "watch"))
    targets = watches.get(name, [])
    if not targets:
        names = sorted(watches)
        known = ", ".join(names[:20]) + (f" and {len(names) - 20} more" if len(names) > 20 else "")
        raise r.fail(
            join(path, "watch"),
            f"expected the name of a watch; {show(name)} is none of: {known or '(none)'}",
        )
    set_path = join(path, "set")
    if isinstance(d.get("set"), dict) and "hosts" in d["set"]:
        raise r.fail(
            join(set_path, "hosts"),
            "an override cannot change a watch's hosts; its own `hosts` (beside `set`) selects "
            "where it applies, and a watch with the same name redefines it for other hosts",
        )
    changes = r.mapping(d.get("set"), set_path, SETTABLE)
    if isinstance(changes.get("remediate"), list):  # kept as given, and published as JSON
        changes = {**changes, "remediate": [_plain_binding(b) for b in changes["remediate"]]}
    if not changes:
        raise r.fail(set_path, "expected the keys to change; it is empty or missing")
    replace = r.strings(d.get("replace"), join(path, "replace"))
    for key in replace:
        if key not in MERGED_KEYS or key not in changes:
            raise r.fail(
                join(path, "replace"),
                f"expected keys of `set` that would merge ({', '.join(MERGED_KEYS)}), "
                f"got {show(key)}",
            )
    origin = f"{r.source}: {path}"
    variants = {}
    for w in targets:
        merged = {**patch_watch(watch_to_dict(w), changes, replace), "origin": w.origin}
        variants[w.origin] = watch_from_dict(r, merged, set_path)
    hosts = hosts_from_dict(r, d.get("hosts"), join(path, "hosts"))
    return Override(name, hosts, changes, origin, variants, replace)
