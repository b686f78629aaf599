"""A real three-node KRaft cluster (gamsi.kafka_cluster): Gamsi's topics on it, a broker
SIGKILLed under an acks=all producer, the node's return, and `gamsi kafka` for N nodes.

The cluster is the session's ``kafka_cluster`` fixture (ports GAMSI_TEST_CLUSTER_PORT,
+2, +4); the CLI test runs a cluster of its own ten ports higher.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from gamsi.kafka_auth import kafka_client_options, producer_options
from gamsi.kafka_cluster import LocalCluster
from gamsi.kafka_setup import client_port
from gamsi.settings import ConfigError, Settings
from gamsi.topics import ensure_topics, topic_specs
from tests.integration.kafka_io import wait_for_records

RECORDS = 200


def _on(settings: Settings, cluster: LocalCluster) -> Settings:
    return replace(settings, kafka=replace(settings.kafka, bootstrap=cluster.bootstrap))


async def _describe(settings: Settings) -> tuple[list[dict[str, Any]], dict[str, dict[str, str]]]:
    """(partitions of every topic of ``settings``, {topic: its configs}) from the cluster."""
    names = [t.name for t in topic_specs(settings)]
    admin = AIOKafkaAdminClient(**kafka_client_options(settings))
    await admin.start()
    try:
        topics = await admin.describe_topics(names)
        answers = await admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, n, None) for n in names]
        )
    finally:
        await admin.close()
    configs = {
        r["resource_name"]: {c["config_names"]: c["config_value"] for c in r["config_entries"]}
        for a in answers
        for r in a.to_object()["resources"]
    }
    return [p | {"topic": t["topic"]} for t in topics for p in t["partitions"]], configs


async def test_gamsi_topics_get_three_copies_and_two_in_sync(
    settings: Settings, kafka_cluster: LocalCluster
) -> None:
    s = _on(settings, kafka_cluster)
    assert s.kafka.replication == 0  # automatic: nobody had to remember the cluster's size
    await ensure_topics(s)
    partitions, configs = await _describe(s)
    assert {p["topic"] for p in partitions} == {t.name for t in topic_specs(s)}
    assert all(len(p["replicas"]) == 3 for p in partitions), partitions
    assert {c["min.insync.replicas"] for c in configs.values()} == {"2"}
    # the topic's own settings are kept beside it (a compacted one and a retained one)
    assert configs[s.notifier.ledger_topic]["cleanup.policy"] == "compact"
    assert configs[s.kafka.events_topic]["retention.ms"] == str(30 * 86_400_000)


async def test_replication_above_the_brokers_is_refused(settings: Settings) -> None:
    """The single test broker has one broker: two copies cannot be placed."""
    two = replace(settings, kafka=replace(settings.kafka, replication=2))
    with pytest.raises(ConfigError, match=r"\[kafka\] replication: 2 copies.*1 broker"):
        await ensure_topics(two)


async def _produce(settings: Settings, first: int, count: int) -> None:
    producer = AIOKafkaProducer(**producer_options(settings), request_timeout_ms=60_000)
    await producer.start()
    try:
        for i in range(first, first + count):
            await producer.send_and_wait(
                settings.kafka.metrics_topic, f"v{i}".encode(), key=f"h{i % 7}".encode()
            )
    finally:
        await producer.stop()


async def test_a_killed_broker_loses_no_acknowledged_record_and_rejoins(
    settings: Settings, kafka_cluster: LocalCluster
) -> None:
    s = _on(settings, kafka_cluster)
    await ensure_topics(s)
    await _produce(s, 0, RECORDS // 2)
    partitions, _ = await _describe(s)
    victim = next(p["leader"] for p in partitions if p["topic"] == s.kafka.metrics_topic)
    await asyncio.to_thread(kafka_cluster.kill, victim)  # the leader of a metrics partition
    try:
        await _produce(s, RECORDS // 2, RECORDS // 2)  # acks=all: 2 of 3 in sync suffice
        every = {f"v{i}".encode() for i in range(RECORDS)}
        values = await wait_for_records(s, s.kafka.metrics_topic, lambda r: set(r) >= every)
        assert len(values) == RECORDS  # each once: idempotence wrote no retried batch twice
    finally:
        await asyncio.to_thread(kafka_cluster.start_node, victim)
    await asyncio.to_thread(kafka_cluster.wait_in_sync, 90.0, [s.kafka.metrics_topic])
    partitions, _ = await _describe(s)
    metrics = [p for p in partitions if p["topic"] == s.kafka.metrics_topic]
    assert all(sorted(p["isr"]) == [1, 2, 3] for p in metrics), metrics


def test_kafka_cli_starts_reports_and_stops_three_nodes(tmp_path: Path) -> None:
    port = int(os.environ.get("GAMSI_TEST_CLUSTER_PORT", "28500")) + 10
    env = {
        **os.environ,
        "GAMSI_PATHS_DATA_DIR": str(tmp_path / "data"),
        "GAMSI_BROKER_PORT": str(port),
        "GAMSI_BROKER_CONTROLLER_PORT": str(port + 1),
        "GAMSI_KAFKA_BOOTSTRAP": f"127.0.0.1:{port}",
    }

    def gamsi(*args: str) -> subprocess.CompletedProcess[str]:
        argv = [sys.executable, "-m", "gamsi", "kafka", *args]
        return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=240)

    from gamsi.settings import load_settings

    cluster = LocalCluster(load_settings(environ=env), 3)
    try:
        started = gamsi("start", "--nodes", "3")
        assert started.returncode == 0, started.stdout + started.stderr
        ports = [client_port(cluster.settings.broker, i) for i in (1, 2, 3)]
        assert ports == [port, port + 2, port + 4]
        assert f"bootstrap: {cluster.bootstrap}" in started.stdout
        status = gamsi("status", "--nodes", "3")
        assert status.returncode == 0, status.stdout + status.stderr
        lines = status.stdout.splitlines()
        for i, p in zip((1, 2, 3), ports, strict=True):
            assert any(
                ln.startswith(f"Kafka node {i}: running") and f"answering on 127.0.0.1:{p}" in ln
                for ln in lines
            ), status.stdout
        topics = gamsi("topics")
        assert "replication=3" in topics.stdout, topics.stdout + topics.stderr
        stopped = gamsi("stop")  # without --nodes: the running nodes are found and stopped
        assert stopped.returncode == 0, stopped.stdout + stopped.stderr
        assert "Kafka stopped" in stopped.stdout
        assert [m.pid() for m in cluster.members] == [None, None, None]
    finally:
        cluster.stop(timeout=10)
