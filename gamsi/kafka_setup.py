"""What a local Kafka node needs before it runs: its jars, ports and configuration.

Kafka is not on PyPI and these machines reach no download site except Maven
Central, so the broker is assembled from ``org.apache.kafka:kafka_2.13`` and its
runtime dependencies with ``mvn dependency:copy-dependencies`` (:func:`resolve_jars`).

One place decides what node ``i`` (1-based) of an ``N``-node loopback cluster looks
like, so the single broker (:class:`gamsi.kafka_broker.LocalBroker`), the cluster
(:class:`gamsi.kafka_cluster.LocalCluster`) and their tests agree:

* ports: clients on ``[broker] port + 2*(i-1)``, the controller on
  ``[broker] controller_port + 2*(i-1)`` (so the defaults interleave: 9092/9093,
  9094/9095, 9096/9097);
* roles: every node is broker and controller ("combined mode"), and
  ``controller.quorum.voters`` lists all N, so any minority of nodes may fail;
* replication of the broker's own topics (consumer offsets, transaction state) and
  of topics created without a factor: ``min(3, N)`` copies, ``min.insync.replicas``
  2 with 3 copies (an acknowledged write survives the loss of one node), else 1.
  That is the rule Kafka's own docs give for production ("replication factor 3,
  min.insync.replicas 2, acks=all"; Kafka documentation, "Replication" and
  "min.insync.replicas"); Gamsi's topics follow it too (:mod:`gamsi.topics`).

Also here: :func:`settings_for` (the settings of a throwaway broker or cluster on given
ports) and :func:`run_sync` (a coroutine run to its end from blocking code).
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Callable, Coroutine
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

from gamsi.settings import BrokerSettings, Settings, load_settings

T = TypeVar("T")

POM = """<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>dev.gamsi</groupId>
  <artifactId>gamsi-kafka-broker</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>org.apache.kafka</groupId>
      <artifactId>kafka_2.13</artifactId>
      <version>{version}</version>
    </dependency>
    <dependency>
      <groupId>org.slf4j</groupId>
      <artifactId>slf4j-reload4j</artifactId>
      <version>1.7.36</version>
    </dependency>
  </dependencies>
</project>
"""

LOG4J = """log4j.rootLogger=WARN, stdout
log4j.appender.stdout=org.apache.log4j.ConsoleAppender
log4j.appender.stdout.layout=org.apache.log4j.PatternLayout
log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka.server.KafkaRaftServer=INFO
log4j.logger.kafka.Kafka=INFO
"""


def resolve_jars(version: str, libs: Path) -> Path:
    """Copy ``org.apache.kafka:kafka_2.13:<version>`` and its runtime dependencies into
    ``libs`` with Maven, once (a ``.complete`` marker makes later calls free); returns
    ``libs``. Raises :class:`gamsi.kafka_broker.BrokerError` when mvn is missing or fails."""
    from gamsi.kafka_broker import BrokerError

    marker = libs / ".complete"
    if marker.exists():
        return libs
    mvn = shutil.which("mvn")
    if mvn is None:
        raise BrokerError(
            "Maven ('mvn') is not on PATH: it is needed once to fetch the Kafka broker "
            "from Maven Central. Install it (apt-get install maven) or point "
            "[kafka] bootstrap at an existing broker."
        )
    libs.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="gamsi-mvn-") as tmp:
        pom = Path(tmp) / "pom.xml"
        pom.write_text(POM.format(version=version))
        cmd = [mvn, "-q", "-B", "-f", str(pom), "dependency:copy-dependencies"]
        cmd += [f"-DoutputDirectory={libs}", "-DincludeScope=runtime"]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        tail = (proc.stdout + proc.stderr).strip().splitlines()[-15:]
        raise BrokerError(
            f"mvn could not resolve org.apache.kafka:kafka_2.13:{version}:\n" + "\n".join(tail)
        )
    marker.write_text(version + "\n")
    return libs


def client_port(conf: BrokerSettings, node: int) -> int:
    """Client (PLAINTEXT) port of node ``node`` (1-based) on 127.0.0.1."""
    return conf.port + 2 * (node - 1)


def controller_port(conf: BrokerSettings, node: int) -> int:
    """KRaft controller port of node ``node`` (1-based) on 127.0.0.1."""
    return conf.controller_port + 2 * (node - 1)


def replication_for(brokers: int) -> tuple[int, int]:
    """(replication factor, min.insync.replicas) for a cluster of ``brokers`` brokers:
    (3, 2) from three brokers on, (2, 1) for two, (1, 1) for one."""
    factor = max(1, min(3, brokers))
    return factor, (2 if factor >= 3 else 1)


def server_properties(conf: BrokerSettings, node: int, nodes: int, logs: Path) -> dict[str, str]:
    """The ``server.properties`` of node ``node`` of ``nodes`` (both ≥ 1), its data in ``logs``.

    Raises ValueError for a node outside 1..nodes."""
    if not 1 <= node <= nodes:
        raise ValueError(f"node {node} is not one of 1..{nodes}")
    port, cport = client_port(conf, node), controller_port(conf, node)
    voters = ",".join(f"{i}@127.0.0.1:{controller_port(conf, i)}" for i in range(1, nodes + 1))
    factor, min_isr = (str(v) for v in replication_for(nodes))
    return {
        "process.roles": "broker,controller",
        "node.id": str(node),
        "controller.quorum.voters": voters,
        "listeners": f"PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{cport}",
        "advertised.listeners": f"PLAINTEXT://127.0.0.1:{port}",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
        "log.dirs": str(logs),
        # Gamsi creates its topics with explicit partition counts (gamsi.topics);
        # a typo in a topic name must fail loudly, not create a stray topic.
        "auto.create.topics.enable": "false",
        "num.partitions": "1",
        "default.replication.factor": factor,
        "min.insync.replicas": min_isr,
        "offsets.topic.replication.factor": factor,
        "offsets.topic.num.partitions": "6",
        "transaction.state.log.replication.factor": factor,
        "transaction.state.log.min.isr": min_isr,
        "transaction.state.log.num.partitions": "6",
        "group.initial.rebalance.delay.ms": "0",
        "log.retention.hours": "72",
        "log.segment.bytes": str(64 * 1024 * 1024),
    }


def settings_for(data_dir: Path, port: int) -> Settings:
    """Default settings with the data in ``data_dir``, clients on ``port`` and the
    controller on ``port + 1`` (node i of a cluster: ``port + 2*(i-1)`` and one more)."""
    base = load_settings(environ={})
    return replace(
        base,
        paths=replace(base.paths, data_dir=str(data_dir)),
        broker=replace(base.broker, port=port, controller_port=port + 1),
    )


def run_sync(factory: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run the coroutine ``factory()`` to its end from sync code, also when the calling
    thread already runs an event loop (then in a thread of its own)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(factory())
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["value"] = asyncio.run(factory())
        except BaseException as exc:  # re-raised in the caller's thread
            box["error"] = exc

    thread = threading.Thread(target=run, name="gamsi-cluster-wait", daemon=True)
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    return box["value"]
