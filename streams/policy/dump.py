"""Policy records → plain dicts: the canonical form people read and the topic carries.

``*_to_dict`` leaves out keys at their defaults and writes durations as ``5m``;
:mod:`gamsi.streams.policy.parse` reads that form back to an equal record.
"""

from __future__ import annotations

from typing import Any

from gamsi.streams.policy.model import HostSelector, Level, Policy, Watch
from gamsi.streams.policy.remediate import binding_to_dict
from gamsi.streams.policy.values import format_duration

HOST_KEYS = ("names", "globs", "tags", "os")


def level_to_dict(lv: Level) -> dict[str, Any]:
    """``{"op": ">=", "value": 90.0}`` plus ``recover`` when the level has its own."""
    out: dict[str, Any] = {"op": lv.op, "value": lv.threshold}
    if lv.recover is not None:
        out["recover"] = lv.recover
    return out


def hosts_to_dict(h: HostSelector) -> dict[str, list[str]]:
    """Only the selector's non-empty lists (``{}`` means every host)."""
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
    if w.remediate:
        out["remediate"] = [binding_to_dict(b) for b in w.remediate]
    return out


def policy_to_dict(policy: Policy) -> dict[str, Any]:
    """A self-contained plain dict (defaults already folded in) for a compacted topic."""
    return {
        "version": 1,
        "use_defaults": False,
        "processors": {k: dict(v) for k, v in policy.processors.items()},
        "watches": [watch_to_dict(w, origin=True) for w in policy.watches],
        "overrides": [
            {
                "watch": o.watch,
                "hosts": hosts_to_dict(o.hosts),
                "set": dict(o.changes),
                **({"replace": list(o.replace)} if o.replace else {}),
            }
            for o in policy.overrides
        ],
        "default_os": policy.default_os,
    }
