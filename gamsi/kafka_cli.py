"""``gamsi kafka start|stop|status|topics``: the local broker or cluster, and Gamsi's topics.

``start --nodes N`` (default ``[broker] nodes``) runs an N-node KRaft cluster on
127.0.0.1 (:class:`gamsi.kafka_cluster.LocalCluster`; one node is the single broker
of old), creates Gamsi's topics on it and prints each node. ``stop`` stops the nodes
of that size and any other local node still running under ``<data_dir>/kafka``, so a
changed node count never leaves a JVM behind. ``status`` asks the configured
bootstrap and, for the local broker or cluster, shows each node's process.
"""

from __future__ import annotations

import argparse
import asyncio
from dataclasses import replace
from typing import Any

from gamsi.settings import Settings


def _cluster(args: argparse.Namespace, settings: Settings) -> Any:
    from gamsi.cli import UserError
    from gamsi.kafka_cluster import LocalCluster

    nodes = getattr(args, "nodes", None)
    if nodes is not None and nodes < 1:
        raise UserError(f"--nodes: expected 1 or more, got {nodes}")
    return LocalCluster(settings, nodes)


def _is_local(settings: Settings) -> bool:
    """Does ``[kafka] bootstrap`` (its first address) name node 1 of the local broker?"""
    from gamsi.supervisor import uses_local_broker

    first = settings.kafka.bootstrap.split(",")[0]
    return uses_local_broker(replace(settings, kafka=replace(settings.kafka, bootstrap=first)))


def _print_nodes(cluster: Any, statuses: list[Any]) -> None:
    if cluster.nodes == 1:
        print(f"Kafka {statuses[0]}")
        return
    for member, status in zip(cluster.members, statuses, strict=True):
        print(f"Kafka node {member.node}: {status}")


def _start(args: argparse.Namespace, settings: Settings) -> int:
    from gamsi.topics import ensure_topics

    cluster = _cluster(args, settings)
    if not _is_local(settings):  # the topics go to the cluster started here
        print(f"note: [kafka] bootstrap is {settings.kafka.bootstrap}, not this broker")
    settings = replace(settings, kafka=replace(settings.kafka, bootstrap=cluster.bootstrap))
    size = f"{cluster.nodes} nodes" if cluster.nodes > 1 else "1 node"
    jars = cluster.members[0].libs
    print(f"starting Kafka {settings.broker.kafka_version}, {size} (jars in {jars}) ...")
    statuses = cluster.start()
    created = asyncio.run(ensure_topics(settings))
    _print_nodes(cluster, statuses)
    if cluster.nodes > 1:
        print(f"bootstrap: {cluster.bootstrap}")
    if created:
        print("created topics: " + ", ".join(created))
    return 0


def _stop(args: argparse.Namespace, settings: Settings) -> int:
    from gamsi.cli import UserError
    from gamsi.instance_lock import running_up
    from gamsi.kafka_cluster import running_elsewhere

    up = running_up(settings.data_dir)
    if up is not None:  # it would restart the broker within seconds: say so instead
        raise UserError(
            f"the broker belongs to gamsi up (pid {up}), which restarts it if it stops; "
            "stop gamsi up instead (Ctrl-C in its terminal, or kill " + up + ")"
        )
    cluster = _cluster(args, settings)
    ran = cluster.stop()
    for other in running_elsewhere(settings, cluster.nodes):
        print(f"stopping node {other.node} too ({other.home})")
        ran = other.stop() or ran
    print("Kafka stopped" if ran else "Kafka was not running")
    return 0


def _status(args: argparse.Namespace, settings: Settings) -> int:
    """The configured bootstrap answers a metadata request (exit 0) or not (3); for the
    local broker or cluster also whether each node's process runs."""
    from gamsi.kafka_errors import broker_answers

    answering = asyncio.run(broker_answers(settings))
    if _is_local(settings):
        cluster = _cluster(args, settings)
        statuses = cluster.status()
        if cluster.nodes == 1:
            statuses = [replace(statuses[0], answering=answering)]
        _print_nodes(cluster, statuses)
    else:
        state = "answering" if answering else "not answering"
        print(f"Kafka at {settings.kafka.bootstrap}: {state}")
    return 0 if answering else 3


def _topics(args: argparse.Namespace, settings: Settings) -> int:
    from gamsi.topics import ensure_topics, replication_factor, topic_specs

    created = asyncio.run(ensure_topics(settings))
    copies = replication_factor(settings)  # as ensure_topics resolved it
    for spec in topic_specs(settings, copies):
        mark = "created" if spec.name in created else "exists"
        print(f"{spec.name:24} partitions={spec.partitions} replication={copies} {mark}")
    return 0


def add_commands(sub: Any) -> None:
    """Declare ``gamsi kafka`` and its subcommands on ``sub``."""
    from gamsi.cli import command

    kafka = sub.add_parser("kafka", help="the local Kafka broker or cluster (KRaft, 127.0.0.1)")
    ksub = kafka.add_subparsers(dest="kafka_command", required=True)
    nodes = {
        "type": int,
        "default": None,
        "help": "nodes of the local cluster (default: [broker] nodes)",
    }
    start = command(ksub, "start", _start, "fetch (once), format (once) and start the broker")
    start.add_argument("--nodes", **nodes)
    command(ksub, "stop", _stop, "stop the broker cleanly").add_argument("--nodes", **nodes)
    status = command(ksub, "status", _status, "is the broker running and answering")
    status.add_argument("--nodes", **nodes)
    command(ksub, "topics", _topics, "create Gamsi's topics if missing and list them")
