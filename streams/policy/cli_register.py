"""`gamsi policy unregistered` and `gamsi policy register`: items no watch covers (미등록)."""

from __future__ import annotations

import argparse
import hashlib
import re
import sys
import time
from pathlib import Path

import orjson
import yaml

from gamsi.settings import Settings
from gamsi.streams.inventory import Coverage, coverage
from gamsi.streams.policy.cli_common import policy_in_force, selected_hosts, user_error
from gamsi.streams.policy.dump import watch_to_dict
from gamsi.streams.policy.load import host_watch, load_defaults


def _report(cov: Coverage) -> list[str]:
    lines = [f"{cov.host} ({cov.os or 'unknown os'}): {cov.registered}/{cov.expected} registered"]
    for gap in cov.gaps:
        where = f"{gap.item} {gap.instance}" if gap.instance else gap.item
        lines.append(f"  미등록 {where:40} {gap.reason}  (default: {gap.template.name})")
    if cov.unreported:
        lines.append(f"  not reported by the collector: {', '.join(cov.unreported)}")
    return lines


def unregistered(args: argparse.Namespace, settings: Settings) -> int:
    """`gamsi policy unregistered`: exit 1 when some host has an item no watch covers."""
    policy = policy_in_force(args, settings)
    profile = load_defaults()
    covs = [coverage(policy, profile, h) for h in selected_hosts(args, settings)]
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


_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


def registration_file(policy_path: Path, host: str) -> Path:
    """Where a host's registrations go: ``policy_path`` itself when it is a file, else
    ``registered-<host>.yaml`` in it, the name made filesystem-safe (a host name is field
    data: ``../x`` or ``a/b`` must not pick the directory) with a hash when it changed."""
    if not policy_path.is_dir():
        return policy_path
    safe = re.sub(r"\.{2,}", "_", _UNSAFE.sub("_", host))[:80]
    if safe != host or safe.startswith("."):
        safe = f"{safe.lstrip('.')}-{hashlib.sha256(host.encode()).hexdigest()[:10]}"
    return policy_path / f"registered-{safe}.yaml"


def _target(args: argparse.Namespace, settings: Settings) -> Path:
    given = args.file or settings.streams.policy_path
    if not given:
        raise user_error(
            "nowhere to write: set [streams] policy_path (GAMSI_STREAMS_POLICY_PATH) to a policy "
            "file or directory, or pass --file FILE"
        )
    path = Path(given).expanduser()
    return registration_file(path, args.host)


def register(args: argparse.Namespace, settings: Settings) -> int:
    """`gamsi policy register --host H --defaults`: append the missing watches, re-check."""
    if not args.defaults:
        raise user_error("say how to cover the items: --defaults (copy the OS default watches)")
    (host,) = selected_hosts(args, settings)
    policy = policy_in_force(args, settings)
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
        after = coverage(policy_in_force(args, settings), load_defaults(), host)
    except Exception:
        target.write_text(existing, encoding="utf-8")  # never leave a policy that does not load
        raise
    print(
        f"{host.host}: registered {len(cov.gaps)} watches in {target}; "
        f"now {after.registered}/{after.expected} registered"
    )
    return 0 if not after.gaps else 1
