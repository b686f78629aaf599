"""The local Apache Kafka broker: jars from Maven Central, KRaft, 127.0.0.1.

The broker's jars come from Maven Central (:func:`gamsi.kafka_setup.resolve_jars`)
into a cache outside the repository (``<cache_dir>/kafka-<version>/libs``); a node
runs as ``java -cp 'libs/*' kafka.Kafka server.properties`` exactly as
``kafka-server-start.sh`` would.

:class:`LocalBroker` is one node: its process, data directory, log and pid file.
Alone (the default) it is the single-node broker under ``<data_dir>/kafka``; as node
``i`` of N it is one member of :class:`gamsi.kafka_cluster.LocalCluster`, under
``<data_dir>/kafka/node-<i>``. Its configuration comes from :mod:`gamsi.kafka_props`.

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
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from gamsi.kafka_setup import (
    LOG4J,
    client_port,
    controller_port,
    resolve_jars,
    server_properties,
    settings_for,
)
from gamsi.settings import Settings


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
    """One KRaft node (broker and controller) on 127.0.0.1.

    ``node``/``nodes``: this is node ``node`` (1-based) of a cluster of ``nodes``; with
    the default (1 of 1) its state lives under ``<data_dir>/kafka``, else under
    ``<data_dir>/kafka/node-<node>``. Ports: :func:`gamsi.kafka_props.client_port`.
    """

    def __init__(self, settings: Settings, node: int = 1, nodes: int = 1) -> None:
        self.settings = settings
        self.conf = settings.broker
        self.node, self.nodes = node, nodes
        root = settings.data_dir / "kafka"
        self.home = root if nodes == 1 else root / f"node-{node}"
        self.libs = settings.cache_dir / f"kafka-{self.conf.kafka_version}" / "libs"
        self.pid_file = self.home / "broker.pid"
        self.log_file = self.home / "broker.log"
        self.port = client_port(self.conf, node)
        self.controller_port = controller_port(self.conf, node)
        self.bootstrap = f"127.0.0.1:{self.port}"
        self._proc: subprocess.Popen[bytes] | None = None  # kept so it is reaped, not leaked

    # -- preparing -----------------------------------------------------------------

    def ensure_jars(self) -> Path:
        """Resolve the broker's jars once (:func:`gamsi.kafka_setup.resolve_jars`)."""
        return resolve_jars(self.conf.kafka_version, self.libs)

    def _write_config(self) -> Path:
        self.home.mkdir(parents=True, exist_ok=True)
        props = server_properties(self.conf, self.node, self.nodes, self.home / "kraft-logs")
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

    def cluster_id(self) -> str | None:
        """The cluster id this node's storage was formatted with, or None if unformatted."""
        try:
            text = (self.home / "kraft-logs" / "meta.properties").read_text()
        except OSError:
            return None
        found = [ln.split("=", 1)[1] for ln in text.splitlines() if ln.startswith("cluster.id=")]
        return found[0].strip() if found else None

    def _format_storage(self, config: Path, cluster_id: str | None = None) -> None:
        """Format the KRaft storage once (a new id unless ``cluster_id`` is given)."""
        if self.cluster_id() is not None:
            return
        cluster_id = cluster_id or new_cluster_id()
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
        return port_open("127.0.0.1", self.port, timeout)

    def status(self) -> BrokerStatus:
        pid = self.pid()
        return BrokerStatus(pid is not None, pid, self.bootstrap, self.answering())

    def start(self) -> BrokerStatus:
        """Start in the background (idempotent) and wait until clients can connect.

        Only for a broker alone (or a cluster node whose quorum is up): a node of a
        cluster answers once a majority of its controllers runs, so
        :class:`~gamsi.kafka_cluster.LocalCluster` launches all nodes before waiting."""
        proc = self.launch()
        self.wait_ready(proc)
        return self.status()

    def launch(self, cluster_id: str | None = None) -> subprocess.Popen[bytes] | None:
        """Write the config, format the storage (with ``cluster_id`` if new) and start the
        process without waiting; None when it already runs. Raises BrokerError when
        another process holds the port, or for missing Java/Maven."""
        if self.pid() is not None:
            return None
        if self.answering():
            raise BrokerError(
                f"something else already listens on 127.0.0.1:{self.port}; "
                "stop it or choose another [broker] port"
            )
        self.ensure_jars()
        config = self._write_config()
        self._format_storage(config, cluster_id)
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
        return proc

    def wait_ready(self, proc: subprocess.Popen[bytes] | None = None) -> None:
        """Wait (up to ``[broker] start_timeout``) until the port opens and a metadata
        request is answered; BrokerError if ``proc`` exits or time runs out."""
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
                f"the broker did not open 127.0.0.1:{self.port} within "
                f"{self.conf.start_timeout:.0f} s; see {self.log_file}"
            )
        wait_for_kafka_sync(self.bootstrap, max(5.0, deadline - time.monotonic()))

    def signal(self, sig: int) -> int | None:
        """Send ``sig`` to the running process; its pid, or None when it was not running."""
        pid = self.pid()
        if pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        return pid

    def reap(self, pid: int, deadline: float) -> None:
        """Wait until ``pid`` (sent SIGTERM) has exited, SIGKILL it at ``deadline``
        (a monotonic time), and forget it."""
        while time.monotonic() < deadline:
            if not _alive(pid):
                break
            time.sleep(0.1)
        else:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        if self._proc is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._proc.wait(timeout=5)
            self._proc = None
        self.pid_file.unlink(missing_ok=True)

    def stop(self, timeout: float = 30.0) -> bool:
        """SIGTERM (a controlled shutdown), then SIGKILL if it lingers. True if it ran."""
        pid = self.signal(signal.SIGTERM)
        if pid is None:
            self.pid_file.unlink(missing_ok=True)
            return False
        self.reap(pid, time.monotonic() + timeout)
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
    broker = LocalBroker(settings_for(data_dir, port))
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
