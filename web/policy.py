"""Unregistered items (미등록) on the status page, and "register with the defaults" in one step.

The same rules as ``gamsi policy unregistered`` and ``gamsi policy register --defaults``
(:mod:`gamsi.streams.policy.cli_register`): the policy in force (the last applied one,
else ``[streams] policy_path``, else the OS defaults), the inventory from history,
:func:`gamsi.streams.inventory.coverage`, and the registration document made by
:func:`~gamsi.streams.policy.cli_register.registration_yaml`. Registering from the
page then does what ``gamsi policy apply`` does, so the change is live at once: the
whole ``[streams] policy_path`` is loaded, checked to cover the host's gaps, and
published on the policies topic; the stream workers switch without a restart.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gamsi.history.reports import Run
from gamsi.settings import Settings
from gamsi.streams.inventory import Coverage, Inventory, coverage
from gamsi.streams.policy.cli_register import registration_file
from gamsi.streams.policy.errors import PolicyError
from gamsi.streams.policy.model import Policy


class RegisterError(RuntimeError):
    """Registration refused; the one-line message says why and what to set."""


async def policy_in_force(settings: Settings) -> tuple[Policy, str]:
    """(policy, source): the last applied policy, else ``[streams] policy_path`` or defaults."""
    from gamsi.streams.policy.feed import current_policy
    from gamsi.streams.policy.load import load_policy

    applied = await current_policy(settings)
    if applied is not None:
        return applied
    path = settings.streams.policy_path or None
    return await asyncio.to_thread(load_policy, path, settings.streams.default_os), path or ""


def covers(policy: Policy) -> Callable[[str, str, tuple[str, ...], str, str], bool]:
    """``covers(host, os, tags, item, instance)``: does an enabled watch of ``policy`` judge
    the series? The watches of each host are worked out once (``enabled_watches``)."""
    from gamsi.streams.policy.match import enabled_watches

    per_host: dict[tuple[str, str, tuple[str, ...]], list[Any]] = {}

    def test(host: str, os_name: str, tags: tuple[str, ...], item: str, instance: str) -> bool:
        key = (host, os_name, tags)
        if key not in per_host:
            per_host[key] = enabled_watches(policy, host, os_name, tags)
        return any(w.item == item and w.covers_instance(instance) for w in per_host[key])

    return test


def read_inventory(run: Run) -> Inventory:
    """Every host's OS, tags and reported series, from history (blocking: a query)."""
    from gamsi.history.inventory import inventory_from_history

    return Inventory.from_dict(inventory_from_history(run), "history")


def coverage_dict(cov: Coverage) -> dict[str, Any]:
    """The JSON shape of ``gamsi policy unregistered --json`` for one host."""
    return {
        "host": cov.host,
        "os": cov.os,
        "expected": cov.expected,
        "registered": cov.registered,
        "unregistered": [
            {"item": g.item, "instance": g.instance, "reason": g.reason,
             "default": g.template.name}
            for g in cov.gaps
        ],
        "unreported": list(cov.unreported),
    }  # fmt: skip


async def unregistered(
    settings: Settings, run: Run, policy: Policy | None = None
) -> list[dict[str, Any]]:
    """Each host with at least one unregistered item, by host name, against ``policy``
    (default: the policy in force, read now)."""
    from gamsi.streams.policy.load import load_defaults

    if policy is None:
        policy, _ = await policy_in_force(settings)
    inventory = await asyncio.to_thread(read_inventory, run)
    profile = load_defaults()
    covs = [coverage(policy, profile, inventory.hosts[h]) for h in sorted(inventory.hosts)]
    return [coverage_dict(c) for c in covs if c.gaps]


def _policy_path(settings: Settings) -> Path:
    return Path(settings.streams.policy_path).expanduser()


def _same_source(source: str, policy_path: Path) -> bool:
    if not source:
        return True
    try:
        return Path(source).expanduser().resolve() == policy_path.resolve()
    except OSError:
        return False


def _write_and_load(
    settings: Settings, policy_path: Path, target: Path, document: str
) -> tuple[Policy, str]:
    """Append ``document`` to ``target`` and load the whole policy path; the file is put
    back as it was when the result does not load (never leave a policy that fails)."""
    from gamsi.streams.policy.load import load_policy

    existing = target.read_text(encoding="utf-8") if target.exists() else ""
    separator = "" if not existing else ("---\n" if existing.endswith("\n") else "\n---\n")
    target.write_text(existing + separator + document, encoding="utf-8")
    try:
        return load_policy(policy_path, settings.streams.default_os), existing
    except Exception:
        if existing:
            target.write_text(existing, encoding="utf-8")
        else:
            target.unlink()
        raise


async def register_defaults(settings: Settings, run: Run, host: str) -> dict[str, Any]:
    """Cover ``host``'s unregistered items with the OS default watches, live.

    Returns ``{host, registered: n, file, expected, now_registered}``. Raises
    :class:`RegisterError` (no policy path, the policy in force came from elsewhere,
    unknown host, a result that does not load) and KafkaError when publishing fails.
    """
    from gamsi.streams.policy.cli_register import registration_yaml
    from gamsi.streams.policy.feed import publish_policy
    from gamsi.streams.policy.load import load_defaults

    if not settings.streams.policy_path:
        raise RegisterError(
            "registering needs a policy file to write: set [streams] policy_path "
            "(a file or a directory)"
        )
    policy_path = _policy_path(settings)
    policy, source = await policy_in_force(settings)
    if not _same_source(source, policy_path):
        raise RegisterError(
            f"the policy in force was applied from {source!r}, not [streams] policy_path; "
            f"use `gamsi policy register --defaults --host HOST --file {source}` and apply it"
        )
    inventory = await asyncio.to_thread(read_inventory, run)
    if host not in inventory.hosts:
        raise RegisterError(f"host {host!r} is not in history's inventory")
    cov = coverage(policy, load_defaults(), inventory.hosts[host])
    target = registration_file(policy_path, host)
    if not cov.gaps:
        return _result(cov, 0, target, cov)
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    document = registration_yaml(cov, stamp)
    try:
        new_policy, existing = await asyncio.to_thread(
            _write_and_load, settings, policy_path, target, document
        )
    except PolicyError as exc:
        raise RegisterError(f"the registration does not load, nothing changed: {exc}") from None
    after = coverage(new_policy, load_defaults(), inventory.hosts[host])
    try:
        await publish_policy(settings, new_policy, str(policy_path))
    except Exception:
        await asyncio.to_thread(target.write_text, existing, encoding="utf-8")
        raise
    return _result(cov, len(cov.gaps), target, after)


def _result(before: Coverage, n: int, target: Path, after: Coverage) -> dict[str, Any]:
    return {
        "host": before.host,
        "registered": n,
        "file": str(target),
        "expected": after.expected,
        "now_registered": after.registered,
    }


__all__ = [
    "RegisterError",
    "coverage_dict",
    "covers",
    "policy_in_force",
    "register_defaults",
    "registration_file",
    "unregistered",
]
