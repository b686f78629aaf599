"""`gamsi policy ...`: validate, show, list unregistered items, register them.

The policy comes from ``[streams] policy_path`` (or ``--policy``); the hosts come
from the inventory file (``[streams] inventory_file``, or ``--inventory``), which is
either an inventory JSON object or JSON lines of metric batches as they travel on
the metrics topic (for example saved with a console consumer).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import orjson
import yaml

from gamsi.schemas.codec import DecodeError, decode_metric_batch
from gamsi.settings import Settings
from gamsi.streams.inventory import Coverage, HostInventory, Inventory, coverage
from gamsi.streams.policy.dicts import watch_to_dict
from gamsi.streams.policy.errors import PolicyError
from gamsi.streams.policy.load import host_watch, load_defaults, load_policy
from gamsi.streams.policy.match import effective_watches
from gamsi.streams.policy.model import Policy


def _user_error(message: str) -> Exception:
    from gamsi.cli import UserError

    return UserError(message)


def _policy(args: argparse.Namespace, settings: Settings) -> Policy:
    """--policy if given; else the policy the workers run (the last `policy apply`);
    else the configured policy_path or the OS defaults."""
    given = getattr(args, "policy", None)
    if not given:
        import asyncio

        from gamsi.streams.policy_feed import current_policy

        applied = asyncio.run(current_policy(settings))
        if applied is not None:
            policy, source = applied
            print(f"(policy in force: applied from {source})", file=sys.stderr)
            return policy
    path = given or settings.streams.policy_path or None
    try:
        return load_policy(path, settings.streams.default_os)
    except PolicyError as exc:
        raise _user_error(str(exc)) from None


def inventory_path(args: argparse.Namespace, settings: Settings) -> Path | None:
    """The inventory file given or configured; None means: read it from history."""
    given = getattr(args, "inventory", None) or settings.streams.inventory_file
    return Path(given).expanduser() if given else None


def load_inventory(args: argparse.Namespace, settings: Settings) -> Inventory:
    path = inventory_path(args, settings)
    if path is not None:
        return read_inventory(path)
    from gamsi.history.client import QueryError, history_reader
    from gamsi.history.inventory import inventory_from_history

    try:
        with history_reader(settings) as run:
            return Inventory.from_dict(inventory_from_history(run), "history")
    except (QueryError, OSError, RuntimeError) as exc:
        raise _user_error(
            f"cannot read the inventory from history ({exc}); is `gamsi history run` "
            "storing metrics? Or pass --inventory FILE"
        ) from None


def read_inventory(path: Path) -> Inventory:
    """An inventory JSON object, or JSON lines of encoded metric batches."""
    try:
        text = path.read_bytes()
    except OSError as exc:
        raise _user_error(
            f"{path}: cannot read the inventory ({exc.strerror}); pass --inventory FILE "
            "or set [streams] inventory_file"
        ) from None
    stripped = text.lstrip()
    if stripped.startswith(b"{") and b'"hosts"' in stripped[:4096]:
        try:
            return Inventory.from_dict(orjson.loads(text), str(path))
        except (orjson.JSONDecodeError, ValueError) as exc:
            raise _user_error(str(exc)) from None
    inv = Inventory()
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            inv.observe(decode_metric_batch(line))
        except DecodeError as exc:
            raise _user_error(f"{path}:{n}: expected a metric batch: {exc}") from None
    return inv


def _hosts(args: argparse.Namespace, settings: Settings) -> list[HostInventory]:
    inv = load_inventory(args, settings)
    if args.host:
        if args.host not in inv.hosts:
            known = ", ".join(sorted(inv.hosts)) or "(none)"
            raise _user_error(f"host {args.host!r} is not in the inventory; known hosts: {known}")
        return [inv.hosts[args.host]]
    return [inv.hosts[h] for h in sorted(inv.hosts)]


# -- validate / show ------------------------------------------------------------------


def _apply(args: argparse.Namespace, settings: Settings) -> int:
    import asyncio

    from gamsi.streams.policy_feed import apply_policy

    try:
        policy = asyncio.run(apply_policy(settings, args.file))
    except PolicyError as exc:
        raise _user_error(str(exc)) from None
    print(
        f"{args.file}: applied: {len(policy.watches)} watches in force on "
        f"{settings.kafka.policies_topic}; running workers switch without a restart"
    )
    return 0


def _validate(args: argparse.Namespace, settings: Settings) -> int:
    try:
        policy = load_policy(args.file, settings.streams.default_os)
    except PolicyError as exc:
        raise _user_error(str(exc)) from None
    own = [w for w in policy.watches if not w.origin.startswith("defaults/")]
    print(
        f"{args.file}: valid: {len(own)} watches, {len(policy.overrides)} overrides, "
        f"processors: {', '.join(policy.processors) or 'none'}"
    )
    return 0


def _show(args: argparse.Namespace, settings: Settings) -> int:
    policy = _policy(args, settings)
    if args.host:
        os_name, tags = args.os, args.tags
        if os_name is None or tags is None:
            from gamsi.cli import UserError

            try:
                inv = load_inventory(args, settings).hosts.get(args.host)
            except UserError:  # no inventory: fall back to what was given and the defaults
                inv = None
            os_name = os_name if os_name is not None else (inv.os if inv else "")
            tags = tags if tags is not None else (",".join(inv.tags) if inv else "")
        tag_list = [t for t in (tags or "").split(",") if t]
        rows = [
            {**watch_to_dict(e.watch), "from": list(e.origins)}
            for e in effective_watches(policy, args.host, os_name, tag_list)
        ]
        shown_os = os_name or policy.default_os
        header = f"# effective watches for {args.host} (os {shown_os}, tags {tag_list})"
    else:
        rows = [watch_to_dict(w, origin=True) for w in policy.watches]
        header = f"# policy from {', '.join(policy.sources)}"
    if args.json:
        sys.stdout.write(orjson.dumps(rows, option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        print(header)
        sys.stdout.write(yaml.safe_dump(rows, sort_keys=False, allow_unicode=True))
    return 0


# -- unregistered / register ----------------------------------------------------------


def _report(cov: Coverage) -> list[str]:
    lines = [f"{cov.host} ({cov.os or 'unknown os'}): {cov.registered}/{cov.expected} registered"]
    for gap in cov.gaps:
        where = f"{gap.item} {gap.instance}" if gap.instance else gap.item
        lines.append(f"  미등록 {where:40} {gap.reason}  (default: {gap.template.name})")
    if cov.unreported:
        lines.append(f"  not reported by the collector: {', '.join(cov.unreported)}")
    return lines


def _unregistered(args: argparse.Namespace, settings: Settings) -> int:
    policy = _policy(args, settings)
    profile = load_defaults()
    covs = [coverage(policy, profile, h) for h in _hosts(args, settings)]
    if args.json:
        out = [
            {
                "host": c.host, "os": c.os, "expected": c.expected, "registered": c.registered,
                "unregistered": [
                    {"item": g.item, "instance": g.instance, "reason": g.reason,
                     "default": g.template.name}
                    for g in c.gaps
                ],
                "unreported": list(c.unreported),
            }
            for c in covs
        ]  # fmt: skip
        sys.stdout.write(orjson.dumps(out, option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        for c in covs:
            print("\n".join(_report(c)))
        total_e = sum(c.expected for c in covs)
        total_r = sum(c.registered for c in covs)
        print(f"total: {total_r}/{total_e} registered on {len(covs)} hosts")
    return 1 if any(c.gaps for c in covs) else 0


def registration_yaml(cov: Coverage, stamp: str) -> str:
    """One YAML document with a watch per uncovered item instance, from the OS defaults."""
    origin = f"registered for {cov.host} at {stamp}"
    watches = [
        watch_to_dict(host_watch(g.template, cov.host, g.instance, origin)) for g in cov.gaps
    ]
    head = (
        f"# gamsi policy register --host {cov.host} --defaults ({stamp}): {len(watches)} watches\n"
    )
    return head + yaml.safe_dump({"watches": watches}, sort_keys=False, allow_unicode=True)


def _target(args: argparse.Namespace, settings: Settings) -> Path:
    given = args.file or settings.streams.policy_path
    if not given:
        raise _user_error(
            "nowhere to write: set [streams] policy_path (GAMSI_STREAMS_POLICY_PATH) to a policy "
            "file or directory, or pass --file FILE"
        )
    path = Path(given).expanduser()
    return path / f"registered-{args.host}.yaml" if path.is_dir() else path


def _register(args: argparse.Namespace, settings: Settings) -> int:
    if not args.defaults:
        raise _user_error("say how to cover the items: --defaults (copy the OS default watches)")
    (host,) = _hosts(args, settings)
    policy = _policy(args, settings)
    cov = coverage(policy, load_defaults(), host)
    if not cov.gaps:
        print(f"{host.host}: nothing to register ({cov.registered}/{cov.expected} registered)")
        return 0
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    document = registration_yaml(cov, stamp)
    if args.dry_run:
        sys.stdout.write(document)
        return 0
    target = _target(args, settings)
    existing = target.read_text(encoding="utf-8") if target.exists() else ""
    separator = "" if not existing else ("---\n" if existing.endswith("\n") else "\n---\n")
    target.write_text(existing + separator + document, encoding="utf-8")
    args.policy = str(Path(args.file).expanduser()) if args.file else None
    try:
        after = coverage(_policy(args, settings), load_defaults(), host)
    except Exception:
        target.write_text(existing, encoding="utf-8")  # never leave a policy that does not load
        raise
    print(
        f"{host.host}: registered {len(cov.gaps)} watches in {target}; "
        f"now {after.registered}/{after.expected} registered"
    )
    return 0 if not after.gaps else 1


def add_commands(sub: Any) -> None:
    """Register `gamsi policy ...` on the `gamsi` parser."""
    from gamsi.cli import command

    policy = sub.add_parser("policy", help="watch policies: validate, show, unregistered items")
    psub = policy.add_subparsers(dest="policy_command", required=True)

    p = command(psub, "validate", _validate, "check a policy file or directory strictly")
    p.add_argument("file", help="policy YAML file or directory")

    p = command(
        psub, "apply", _apply, "validate, then publish to the running stream workers (live)"
    )
    p.add_argument("file", help="policy YAML file or directory")

    p = command(
        psub, "show", _show, "the policy, or the effective watches of one host and their origin"
    )
    p.add_argument("--host", help="show what applies to this host")
    p.add_argument("--os", help="the host's OS (default: from the inventory)")
    p.add_argument("--tags", help="the host's tags, comma separated (default: from the inventory)")
    p.add_argument("--policy", help="policy file or directory (default: [streams] policy_path)")
    p.add_argument("--inventory", help="inventory JSON or metric batches as JSON lines")
    p.add_argument("--json", action="store_true", help="JSON instead of YAML")

    p = command(
        psub,
        "unregistered",
        _unregistered,
        "items each host should be watched for that no watch covers (미등록)",
    )
    p.add_argument("--host", help="only this host")
    p.add_argument("--policy", help="policy file or directory (default: [streams] policy_path)")
    p.add_argument("--inventory", help="inventory JSON or metric batches as JSON lines")
    p.add_argument("--json", action="store_true", help="JSON output")

    p = command(psub, "register", _register, "cover a host's unregistered items in one step")
    p.add_argument("--host", required=True, help="the host to register")
    p.add_argument(
        "--defaults", action="store_true", help="use the OS default watches as templates"
    )
    p.add_argument("--file", help="policy file to append to (default: [streams] policy_path)")
    p.add_argument("--inventory", help="inventory JSON or metric batches as JSON lines")
    p.add_argument(
        "--dry-run", action="store_true", help="print the watches instead of writing them"
    )
