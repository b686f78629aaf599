"""The local Apache Kafka broker: jars from Maven Central, KRaft, single node, 127.0.0.1.

Kafka is not on PyPI and these machines reach no download site except Maven
Central, so the broker is assembled from ``org.apache.kafka:kafka_2.13`` and its
runtime dependencies with ``mvn dependency:copy-dependencies`` into a cache
outside the repository (``<cache_dir>/kafka-<version>/libs``), then run with
``java -cp 'libs/*' kafka.Kafka server.properties`` exactly as
``kafka-server-start.sh`` would.

Why 3.9.1: Kafka 4.0 removed the old protocol versions (KIP-896); aiokafka's
maintainers say 0.14 works with 4.x, but faust-streaming 0.15 drives aiokafka in
ways nobody has vouched for against 4.x, and 3.9 is the last line that keeps
every old version while running KRaft without ZooKeeper. 3.9.1 is its newest
patch release on Maven Central. Gamsi's integration suite runs against it.
Production users point ``[kafka] bootstrap`` at their own
cluster (or docker-compose's official image) and never use this module.
"""

from __future__ import annotations

import base64
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

from gamsi.settings import Settings

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


class BrokerError(RuntimeError):
    """The local broker could not be prepared, started or stopped; says what to do."""


@dataclass(frozen=True)
class BrokerStatus:
    running: bool
    pid: int | None
    bootstrap: str
    answering: bool

    def __str__(self) -> str:
        if not self.running:
            return f"stopped (bootstrap {self.bootstrap})"
        state = "answering" if self.answering else "not answering yet"
        return f"running, pid {self.pid}, {state} on {self.bootstrap}"


class LocalBroker:
    """One single-node KRaft broker whose state lives under ``<data_dir>/kafka``."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.conf = settings.broker
        self.home = settings.data_dir / "kafka"
        self.libs = settings.cache_dir / f"kafka-{self.conf.kafka_version}" / "libs"
        self.pid_file = self.home / "broker.pid"
        self.log_file = self.home / "broker.log"
        self.bootstrap = f"127.0.0.1:{self.conf.port}"
        self._proc: subprocess.Popen[bytes] | None = None  # kept so it is reaped, not leaked

    # -- preparing -----------------------------------------------------------------

    def ensure_jars(self) -> Path:
        """Resolve the broker's jars once; later starts reuse the cache."""
        marker = self.libs / ".complete"
        if marker.exists():
            return self.libs
        mvn = shutil.which("mvn")
        if mvn is None:
            raise BrokerError(
                "Maven ('mvn') is not on PATH: it is needed once to fetch the Kafka broker "
                "from Maven Central. Install it (apt-get install maven) or point "
                "[kafka] bootstrap at an existing broker."
            )
        self.libs.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="gamsi-mvn-") as tmp:
            pom = Path(tmp) / "pom.xml"
            pom.write_text(POM.format(version=self.conf.kafka_version))
            cmd = [
                mvn,
                "-q",
                "-B",
                "-f",
                str(pom),
                "dependency:copy-dependencies",
                f"-DoutputDirectory={self.libs}",
                "-DincludeScope=runtime",
            ]
            proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            tail = (proc.stdout + proc.stderr).strip().splitlines()[-15:]
            raise BrokerError(
                f"mvn could not resolve org.apache.kafka:kafka_2.13:{self.conf.kafka_version}:\n"
                + "\n".join(tail)
            )
        marker.write_text(self.conf.kafka_version + "\n")
        return self.libs

    def _write_config(self) -> Path:
        self.home.mkdir(parents=True, exist_ok=True)
        logs = self.home / "kraft-logs"
        props = {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.voters": f"1@127.0.0.1:{self.conf.controller_port}",
            "listeners": (
                f"PLAINTEXT://127.0.0.1:{self.conf.port},"
                f"CONTROLLER://127.0.0.1:{self.conf.controller_port}"
            ),
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{self.conf.port}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
            "log.dirs": str(logs),
            # Gamsi creates its topics with explicit partition counts (gamsi.topics);
            # a typo in a topic name must fail loudly, not create a stray topic.
            "auto.create.topics.enable": "false",
            "num.partitions": "1",
            "offsets.topic.replication.factor": "1",
            "offsets.topic.num.partitions": "6",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "transaction.state.log.num.partitions": "6",
            "group.initial.rebalance.delay.ms": "0",
            "log.retention.hours": "72",
            "log.segment.bytes": str(64 * 1024 * 1024),
        }
        path = self.home / "server.properties"
        path.write_text("".join(f"{k}={v}\n" for k, v in props.items()))
        (self.home / "log4j.properties").write_text(LOG4J)
        return path

    def _java(self, *args: str) -> list[str]:
        java = shutil.which("java")
        if java is None:
            raise BrokerError(
                "Java ('java', 17 or newer) is not on PATH; the Kafka broker needs it."
            )
        return [
            java,
            f"-Xmx{self.conf.heap}",
            "-XX:+UseG1GC",
            "-Djava.awt.headless=true",
            f"-Dlog4j.configuration=file:{self.home / 'log4j.properties'}",
            "-cp",
            str(self.libs / "*"),
            *args,
        ]

    def _format_storage(self, config: Path) -> None:
        if (self.home / "kraft-logs" / "meta.properties").exists():
            return
        cluster_id = new_cluster_id()
        cmd = self._java("kafka.tools.StorageTool", "format", "-t", cluster_id, "-c", str(config))
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise BrokerError(f"formatting KRaft storage failed:\n{proc.stdout}{proc.stderr}")

    # -- running -------------------------------------------------------------------

    def pid(self) -> int | None:
        try:
            pid = int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            return pid
        # A recycled pid is not our broker: check its command line mentions kafka.Kafka.
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            return pid
        return pid if b"kafka.Kafka" in cmdline else None

    def answering(self, timeout: float = 1.0) -> bool:
        return port_open("127.0.0.1", self.conf.port, timeout)

    def status(self) -> BrokerStatus:
        pid = self.pid()
        return BrokerStatus(pid is not None, pid, self.bootstrap, self.answering())

    def start(self) -> BrokerStatus:
        """Start in the background (idempotent) and wait until clients can connect."""
        if self.pid() is not None:
            self.wait_ready()
            return self.status()
        if self.answering():
            raise BrokerError(
                f"something else already listens on 127.0.0.1:{self.conf.port}; "
                "stop it or choose another [broker] port"
            )
        self.ensure_jars()
        config = self._write_config()
        self._format_storage(config)
        with open(self.log_file, "ab") as log:
            proc = subprocess.Popen(
                self._java("kafka.Kafka", str(config)),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        self._proc = proc
        self.pid_file.write_text(f"{proc.pid}\n")
        self.wait_ready(proc)
        return self.status()

    def wait_ready(self, proc: subprocess.Popen[bytes] | None = None) -> None:
        from gamsi.topics import wait_for_kafka_sync

        deadline = time.monotonic() + self.conf.start_timeout
        while time.monotonic() < deadline:
            if proc is not None and proc.poll() is not None:
                raise BrokerError(
                    f"the broker exited with code {proc.returncode}; see {self.log_file}"
                )
            if self.answering(0.5):
                break
            time.sleep(0.2)
        else:
            raise BrokerError(
                f"the broker did not open 127.0.0.1:{self.conf.port} within "
                f"{self.conf.start_timeout:.0f} s; see {self.log_file}"
            )
        wait_for_kafka_sync(self.bootstrap, max(5.0, deadline - time.monotonic()))

    def stop(self, timeout: float = 30.0) -> bool:
        """SIGTERM (a controlled shutdown), then SIGKILL if it lingers. True if it ran."""
        pid = self.pid()
        if pid is None:
            self.pid_file.unlink(missing_ok=True)
            return False
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not _alive(pid):
                break
            time.sleep(0.1)
        else:
            os.kill(pid, signal.SIGKILL)
        if self._proc is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._proc.wait(timeout=5)
            self._proc = None
        self.pid_file.unlink(missing_ok=True)
        return True


def new_cluster_id() -> str:
    """A KRaft cluster id for ``kafka-storage format -t``: 16 random bytes, URL-safe base64.

    Never one that starts with ``-``: the storage tool's argument parser reads it as an
    option and the format fails (1 start in 64). Kafka's own ``Uuid.randomUuid()`` skips
    those ids for the same reason."""
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        if not cluster_id.startswith("-"):
            return cluster_id


@contextlib.contextmanager
def throwaway_broker(data_dir: Path, port: int) -> Iterator[str]:
    """A broker of its own on ``port`` (controller on port+1) for tests and benchmarks:
    started in ``data_dir``, stopped on exit; yields its bootstrap address."""
    from gamsi.settings import load_settings

    base = load_settings(environ={})
    broker = LocalBroker(
        replace(
            base,
            paths=replace(base.paths, data_dir=str(data_dir)),
            broker=replace(base.broker, port=port, controller_port=port + 1),
        )
    )
    broker.start()
    try:
        yield broker.bootstrap
    finally:
        broker.stop()


def _alive(pid: int) -> bool:
    try:
        waited, _ = os.waitpid(pid, os.WNOHANG)
        if waited == pid:
            return False
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    try:
        return stat.read_text().split(") ", 1)[1][0] != "Z"
    except (OSError, IndexError):
        return True


def port_open(host: str, port: int, timeout: float = 1.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False
