"""`gamsi policy ...`: validate, apply, show; and the parser for every policy command.

Reading the policy in force and the inventory is in :mod:`.cli_common`; the
unregistered-items commands are in :mod:`.cli_register`.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

import orjson
import yaml

from gamsi.settings import Settings
from gamsi.streams.policy.cli_common import load_inventory, policy_in_force, user_error
from gamsi.streams.policy.cli_register import register, unregistered
from gamsi.streams.policy.dump import watch_to_dict
from gamsi.streams.policy.errors import PolicyError
from gamsi.streams.policy.load import load_policy
from gamsi.streams.policy.match import effective_watches


def _apply(args: argparse.Namespace, settings: Settings) -> int:
    import asyncio

    from gamsi.streams.policy.feed import apply_policy

    try:
        policy = asyncio.run(apply_policy(settings, args.file))
    except PolicyError as exc:
        raise user_error(str(exc)) from None
    print(
        f"{args.file}: applied: {len(policy.watches)} watches in force on "
        f"{settings.kafka.policies_topic}; running workers switch without a restart"
    )
    return 0


def _validate(args: argparse.Namespace, settings: Settings) -> int:
    try:
        policy = load_policy(args.file, settings.streams.default_os)
    except PolicyError as exc:
        raise user_error(str(exc)) from None
    own = [w for w in policy.watches if not w.origin.startswith("defaults/")]
    print(
        f"{args.file}: valid: {len(own)} watches, {len(policy.overrides)} overrides, "
        f"processors: {', '.join(policy.processors) or 'none'}"
    )
    return 0


def _show(args: argparse.Namespace, settings: Settings) -> int:
    policy = policy_in_force(args, settings)
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
        unregistered,
        "items each host should be watched for that no watch covers (미등록)",
    )
    p.add_argument("--host", help="only this host")
    p.add_argument("--policy", help="policy file or directory (default: [streams] policy_path)")
    p.add_argument("--inventory", help="inventory JSON or metric batches as JSON lines")
    p.add_argument("--json", action="store_true", help="JSON output")

    p = command(psub, "register", register, "cover a host's unregistered items in one step")
    p.add_argument("--host", required=True, help="the host to register")
    p.add_argument(
        "--defaults", action="store_true", help="use the OS default watches as templates"
    )
    p.add_argument("--file", help="policy file to append to (default: [streams] policy_path)")
    p.add_argument("--inventory", help="inventory JSON or metric batches as JSON lines")
    p.add_argument(
        "--dry-run", action="store_true", help="print the watches instead of writing them"
    )
