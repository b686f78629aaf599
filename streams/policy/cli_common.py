"""What the `gamsi policy ...` commands read: the policy in force and the host inventory.

The policy comes from ``[streams] policy_path`` (or ``--policy``), unless one was applied
on Kafka; the hosts come from the inventory file (``[streams] inventory_file``, or
``--inventory``), which is either an inventory JSON object or JSON lines of metric
batches as they travel on the metrics topic (for example saved with a console
consumer), or else from history.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import orjson

from gamsi.schemas.codec import DecodeError, decode_metric_batch
from gamsi.settings import Settings
from gamsi.streams.inventory import HostInventory, Inventory
from gamsi.streams.policy.errors import PolicyError
from gamsi.streams.policy.load import load_policy
from gamsi.streams.policy.model import Policy


def user_error(message: str) -> Exception:
    """A :class:`gamsi.cli.UserError` (imported late: gamsi.cli imports this module's stage)."""
    from gamsi.cli import UserError

    return UserError(message)


def policy_in_force(args: argparse.Namespace, settings: Settings) -> Policy:
    """--policy if given; else the policy the workers run (the last `policy apply`);
    else the configured policy_path or the OS defaults."""
    given = getattr(args, "policy", None)
    if not given:
        import asyncio

        from gamsi.streams.policy.feed import current_policy

        applied = asyncio.run(current_policy(settings))
        if applied is not None:
            policy, source = applied
            print(f"(policy in force: applied from {source})", file=sys.stderr)
            return policy
    path = given or settings.streams.policy_path or None
    try:
        return load_policy(path, settings.streams.default_os)
    except PolicyError as exc:
        raise user_error(str(exc)) from None


def inventory_path(args: argparse.Namespace, settings: Settings) -> Path | None:
    """The inventory file given or configured; None means: read it from history."""
    given = getattr(args, "inventory", None) or settings.streams.inventory_file
    return Path(given).expanduser() if given else None


def load_inventory(args: argparse.Namespace, settings: Settings) -> Inventory:
    """The inventory file given or configured, else the inventory history keeps; raises
    UserError saying what to do when neither can be read."""
    path = inventory_path(args, settings)
    if path is not None:
        return read_inventory(path)
    from gamsi.history.client import QueryError, history_reader
    from gamsi.history.inventory import inventory_from_history

    try:
        with history_reader(settings) as run:
            return Inventory.from_dict(inventory_from_history(run), "history")
    except (QueryError, OSError, RuntimeError) as exc:
        raise user_error(
            f"cannot read the inventory from history ({exc}); is `gamsi history run` "
            "storing metrics? Or pass --inventory FILE"
        ) from None


def read_inventory(path: Path) -> Inventory:
    """An inventory JSON object, or JSON lines of encoded metric batches."""
    try:
        text = path.read_bytes()
    except OSError as exc:
        raise user_error(
            f"{path}: cannot read the inventory ({exc.strerror}); pass --inventory FILE "
            "or set [streams] inventory_file"
        ) from None
    stripped = text.lstrip()
    if stripped.startswith(b"{") and b'"hosts"' in stripped[:4096]:
        try:
            return Inventory.from_dict(orjson.loads(text), str(path))
        except (orjson.JSONDecodeError, ValueError) as exc:
            raise user_error(str(exc)) from None
    inv = Inventory()
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            inv.observe(decode_metric_batch(line))
        except DecodeError as exc:
            raise user_error(f"{path}:{n}: expected a metric batch: {exc}") from None
    return inv


def selected_hosts(args: argparse.Namespace, settings: Settings) -> list[HostInventory]:
    """``--host`` from the inventory (UserError naming the known hosts if absent), or all."""
    inv = load_inventory(args, settings)
    if args.host:
        if args.host not in inv.hosts:
            known = ", ".join(sorted(inv.hosts)) or "(none)"
            raise user_error(f"host {args.host!r} is not in the inventory; known hosts: {known}")
        return [inv.hosts[args.host]]
    return [inv.hosts[h] for h in sorted(inv.hosts)]


def reported_items(args: argparse.Namespace, settings: Settings) -> tuple[set[str] | None, str]:
    """(every item some host in the inventory reports, a note for warnings).

    The items are None, and the note says why, when no inventory could be read: the
    checks then rely on the collector's catalogue alone.
    """
    from gamsi.cli import UserError

    try:
        inv = load_inventory(args, settings)
    except UserError as exc:
        return None, f" (no inventory read: {exc})"
    return {item for h in inv.hosts.values() for item in h.items}, ""
