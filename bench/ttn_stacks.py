"""The two alerting stacks bench/ttn.py compares, each started from its own temporary config.

Gamsi: the real collector, stream worker and notifier processes on the bench's broker,
every topic and group under a fresh prefix, the notifier's webhook channel pointed at
the loopback receiver. Prometheus + Alertmanager + node_exporter: Debian's packages,
run as plain child processes (never as system services), alerting the same receiver.
Both in a "tuned" form (1 s collection and evaluation, no duration, no grouping delay)
and in their shipped defaults.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from dataclasses import fields, replace
from pathlib import Path
from typing import Any

from benchlib import Child

from gamsi.settings import Settings, load_settings, to_environ

PACKAGES = {  # binary → Debian package
    "prometheus": "prometheus",
    "prometheus-alertmanager": "prometheus-alertmanager",
    "prometheus-node-exporter": "prometheus-node-exporter",
    "stress-ng": "stress-ng",
}
THRESHOLD = 80.0
PROM_EXPR = '100 - avg(rate(node_cpu_seconds_total{mode="idle"}[%s])) * 100 > 80'
TUNED_POLICY = """\
version: 1
watches:
  - name: cpu-over-80
    item: cpu.util
    levels: {urgent: "> 80"}
"""


def ensure_installed() -> None:
    """apt-get install what is missing; a policy-rc.d stops the packages' postinst from
    starting daemons (removed again afterwards unless it was there before)."""
    missing = [pkg for binary, pkg in PACKAGES.items() if shutil.which(binary) is None]
    if not missing:
        return
    print(f"ttn: installing {' '.join(missing)} with apt-get (no service is started)")
    policy = Path("/usr/sbin/policy-rc.d")
    ours = not policy.exists()
    if ours:
        policy.write_text("#!/bin/sh\nexit 101\n")
        policy.chmod(0o755)
    try:
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        install = ["apt-get", "install", "-y", "-q", "--no-install-recommends", *missing]
        if subprocess.run(install, env=env, capture_output=True).returncode != 0:
            subprocess.run(["apt-get", "update", "-q"], env=env, capture_output=True, check=True)
            subprocess.run(install, env=env, capture_output=True, check=True)
    finally:
        if ours:
            policy.unlink(missing_ok=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def isolated(bootstrap: str, tmp: Path, tag: str) -> Settings:
    """Default settings with every topic, group and port of this run's own (ports off)."""
    base = load_settings(environ={})
    sections: dict[str, Any] = {}
    for sec in fields(base):
        section = getattr(base, sec.name)
        changes: dict[str, Any] = {}
        for f in fields(section):
            value = getattr(section, f.name)
            if f.name.endswith("_topic") and value:
                changes[f.name] = f"{tag}.{value}"
            elif f.name in ("group_id", "app_id"):
                changes[f.name] = f"{tag}-{value}"
            elif f.name.endswith("_port") and sec.name != "broker":
                changes[f.name] = 0
        sections[sec.name] = replace(section, **changes)
    s = replace(base, **sections)
    return replace(
        s,
        paths=replace(s.paths, data_dir=str(tmp / f"data-{tag}")),
        kafka=replace(s.kafka, bootstrap=bootstrap, partitions=1),
    )


def gamsi_stack(bootstrap: str, tmp: Path, tag: str, hook: str, tuned: bool) -> list[Child]:
    """Collector, worker and notifier; tuned: 1 s collection, the cpu.util > 80 watch,
    no storm window. Otherwise the shipped defaults (10 s, the cpu-busy watch)."""
    s = isolated(bootstrap, tmp, tag)
    routing = tmp / f"routing-{tag}.yaml"
    routing.write_text(
        json.dumps(
            {
                "defaults": {"group_window": 0},
                "channels": {
                    "hook": {
                        "type": "webhook",
                        "url": hook,
                        "body": {"kind": "${kind}", "events": "${events}"},
                    }
                },
                "recipients": {"ops": {"contacts": [{"channel": "hook", "to": "ops"}]}},
                "routes": [
                    {"name": "all", "match": {"min_severity": "harmless"}, "recipients": ["ops"]}
                ],
            }
        )
    )
    notifier = replace(s.notifier, routing_file=str(routing), storm_window=0.0)
    collector = replace(s.collector, host=f"ttn-{tag}")
    streams = s.streams
    if tuned:
        policy = tmp / f"policy-{tag}.yaml"
        policy.write_text(TUNED_POLICY)
        collector = replace(collector, interval=1.0)
        streams = replace(streams, policy_path=str(policy))
    s = replace(s, notifier=notifier, collector=collector, streams=streams)
    env = {**os.environ, **to_environ(s)}
    env.pop("GAMSI_CONFIG", None)
    py = sys.executable
    return [
        Child(
            f"gamsi worker ({tag})",
            [py, "-m", "gamsi", "streams", "run"],
            tmp / f"{tag}-worker.log",
            env,
        ),
        Child(
            f"gamsi notifier ({tag})",
            [py, "-m", "gamsi", "notifier", "run"],
            tmp / f"{tag}-notifier.log",
            env,
        ),
        Child(
            f"gamsi collector ({tag})",
            [py, "-m", "gamsi.collector", "run"],
            tmp / f"{tag}-collector.log",
            env,
        ),
    ]


def prometheus_stack(tmp: Path, tag: str, hook: str, tuned: bool) -> list[Child]:
    """node_exporter, Prometheus and Alertmanager; tuned: scrape/evaluate every 1 s,
    rate over 2 s, for 0 s, group_wait 0 s. Otherwise 15 s / 15 s and group_wait 30 s
    (Prometheus' and Alertmanager's shipped defaults) with the same rule over 1 m."""
    node, prom, am = free_port(), free_port(), free_port()
    every, window = ("1s", "2s") if tuned else ("15s", "1m")
    rules = tmp / f"{tag}-rules.yml"
    rules.write_text(
        json.dumps(
            {
                "groups": [
                    {
                        "name": "ttn",
                        "rules": [
                            {
                                "alert": "CpuOver80",
                                "expr": PROM_EXPR % window,
                                "for": "0s",
                            }
                        ],
                    }
                ]
            }
        )
    )
    (tmp / f"{tag}-prometheus.yml").write_text(
        json.dumps(
            {
                "global": {"scrape_interval": every, "evaluation_interval": every},
                "rule_files": [str(rules)],
                "alerting": {
                    "alertmanagers": [{"static_configs": [{"targets": [f"127.0.0.1:{am}"]}]}]
                },
                "scrape_configs": [
                    {"job_name": "node", "static_configs": [{"targets": [f"127.0.0.1:{node}"]}]}
                ],
            }
        )
    )
    route: dict[str, Any] = {"receiver": "hook", "group_by": ["alertname"]}
    if tuned:
        route.update(group_wait="0s", group_interval="1s", repeat_interval="1h")
    (tmp / f"{tag}-alertmanager.yml").write_text(
        json.dumps(
            {
                "route": route,
                "receivers": [
                    {"name": "hook", "webhook_configs": [{"url": hook, "send_resolved": True}]}
                ],
            }
        )
    )
    return [
        Child(
            f"node_exporter ({tag})",
            ["prometheus-node-exporter", f"--web.listen-address=127.0.0.1:{node}"],
            tmp / f"{tag}-node.log",
        ),
        Child(
            f"alertmanager ({tag})",
            [
                "prometheus-alertmanager",
                f"--config.file={tmp / f'{tag}-alertmanager.yml'}",
                f"--storage.path={tmp / f'{tag}-am-data'}",
                f"--web.listen-address=127.0.0.1:{am}",
                "--cluster.listen-address=",
            ],
            tmp / f"{tag}-alertmanager.log",
        ),
        Child(
            f"prometheus ({tag})",
            [
                "prometheus",
                f"--config.file={tmp / f'{tag}-prometheus.yml'}",
                f"--storage.tsdb.path={tmp / f'{tag}-prom-data'}",
                f"--web.listen-address=127.0.0.1:{prom}",
            ],
            tmp / f"{tag}-prometheus.log",
        ),
    ]
