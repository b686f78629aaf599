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
from gamsi.streams.policy.checks import unknown_items, watches_nothing
from gamsi.streams.policy.cli_common import (
    load_inventory,
    policy_in_force,
    reported_items,
    user_error,
)
from gamsi.streams.policy.cli_register import register, unregistered
from gamsi.streams.policy.dump import watch_to_dict
from gamsi.streams.policy.errors import PolicyError
from gamsi.streams.policy.limits import MAX_RECORD_BYTES
from gamsi.streams.policy.load import load_policy
from gamsi.streams.policy.match import effective_watches
from gamsi.streams.policy.model import Policy

SHOWN = 20
"""Warnings printed at most; the rest are counted."""


def vetted(args: argparse.Namespace, settings: Settings) -> Policy:
    """``args.file`` loaded exactly as the engine loads it, plus the checks both `validate`
    and `apply` make, so the two accept the same policies.

    Warns on stderr about watches on items nothing reports (``--strict``: refuses them);
    refuses a policy that disables every watch unless ``--allow-empty``. Every refusal is
    a :class:`~gamsi.cli.UserError` of one line.
    """
    lines: dict[str, dict[str, int]] = {}
    try:
        policy = load_policy(args.file, settings.streams.default_os, lines)
    except PolicyError as exc:
        raise user_error(str(exc)) from None
    findings = unknown_items(policy, None, lines)
    if findings:  # only then is the inventory worth reading (it may open history)
        reported, note = reported_items(args, settings)
        findings = unknown_items(policy, reported, lines)
        for finding in findings[:SHOWN]:
            print(f"warning: {finding}{note}", file=sys.stderr)
        if len(findings) > SHOWN:
            print(f"warning: ... and {len(findings) - SHOWN} more", file=sys.stderr)
    if findings and args.strict:
        raise user_error(
            f"{args.file}: refused (--strict): {len(findings)} watches on items nothing reports"
        )
    _check_record(args, policy)
    if watches_nothing(policy) and not args.allow_empty:
        raise user_error(
            f"{args.file}: expected at least one enabled watch; this policy disables every "
            "watch and would silence every host (pass --allow-empty if that is the intent)"
        )
    return policy


def _check_record(args: argparse.Namespace, policy: Policy) -> None:
    """The policy fits in the one record `apply` publishes (checked by `validate` too)."""
    from gamsi.streams.policy.feed import policy_record

    try:
        size = len(policy_record(policy, str(args.file), applied_at=2e9))  # a stable size
    except Exception as exc:  # a value JSON cannot carry: refuse it here, not in `apply`
        raise user_error(
            f"{args.file}: cannot be published ({type(exc).__name__}: {str(exc)[:200]})"
        ) from None
    if size > MAX_RECORD_BYTES:
        raise user_error(
            f"{args.file}: expected a policy of at most {MAX_RECORD_BYTES:,} bytes as published, "
            f"got {size:,} ({len(policy.watches):,} watches): select hosts with globs and tags "
            "instead of one watch per host"
        )


def _apply(args: argparse.Namespace, settings: Settings) -> int:
    import asyncio

    from aiokafka.errors import KafkaError

    from gamsi.streams.policy.feed import publish_policy

    policy = vetted(args, settings)
    try:
        asyncio.run(publish_policy(settings, policy, str(args.file), args.allow_empty))
    except (KafkaError, OSError) as exc:
        from gamsi.kafka_errors import EXIT_UNREACHABLE, unreachable, unreachable_line

        if unreachable(exc):  # the same line and exit code as every command's (75)
            line = unreachable_line(settings).removeprefix("gamsi: ")
            print(f"gamsi: {args.file}: valid, but not applied: {line}", file=sys.stderr)
            return EXIT_UNREACHABLE
        raise user_error(
            f"{args.file}: valid, but not applied: cannot publish to Kafka at "
            f"{settings.kafka.bootstrap} ({type(exc).__name__}: {exc})"
        ) from None
    topic = settings.kafka.policies_topic
    print(f"{args.file}: applied on {topic} ({_summary(policy)}); workers switch without restart")
    return 0


def _validate(args: argparse.Namespace, settings: Settings) -> int:
    print(f"{args.file}: valid: {_summary(vetted(args, settings))}")
    return 0


def _summary(policy: Policy) -> str:
    own = [w for w in policy.watches if not w.origin.startswith("defaults/")]
    processors = ", ".join(policy.processors) or "none"
    return f"{len(own)} watches, {len(policy.overrides)} overrides, processors: {processors}"


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

    for name, handler, text in (
        ("validate", _validate, "check a policy file or directory strictly"),
        ("apply", _apply, "validate, then publish to the running stream workers (live)"),
    ):
        p = command(psub, name, handler, text)
        p.add_argument("file", help="policy YAML file or directory")
        p.add_argument(
            "--strict", action="store_true", help="refuse watches on items nothing reports"
        )
        p.add_argument(
            "--allow-empty", action="store_true", help="accept a policy that disables every watch"
        )
        p.add_argument("--inventory", help="inventory JSON or metric batches as JSON lines")

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

    from gamsi.streams.policy.policy_run import add_test_command

    add_test_command(psub)
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
