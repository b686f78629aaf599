"""A real Kafka broker with TLS, SASL/SCRAM and ACLs, for the Kafka security tests.

The project's own jars (:class:`gamsi.kafka_broker.LocalBroker` resolves and caches
them) run a single KRaft node whose client listener is ``SASL_SSL`` on 127.0.0.1:

* TLS with a certificate made here with openssl for ``IP:127.0.0.1`` (``ca_file``
  is what a client trusts);
* SCRAM-SHA-512 users created at format time (``kafka-storage format --add-scram``,
  KIP-554), ``admin`` being the super user the broker itself uses;
* ``StandardAuthorizer`` with ``allow.everyone.if.no.acl.found=false``: a user may
  do only what an ACL grants (``allow``, run through Kafka's own ``AclCommand``).

Started once per test module (it costs one JVM for the module's duration) and
stopped, SIGTERM then SIGKILL, on exit.
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from gamsi.kafka_broker import LocalBroker, new_cluster_id
from gamsi.settings import load_settings

ADMIN, ADMIN_PASSWORD = "admin", "admin-secret-4f1a"
MECHANISM = "SCRAM-SHA-512"
STORE_PASSWORD = "store-pass-77c2"
START_TIMEOUT = 180.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def make_tls_files(directory: Path) -> tuple[Path, Path]:
    """(certificate PEM a client trusts, PKCS12 keystore of the broker) for 127.0.0.1."""
    cert, key, store = directory / "ca.pem", directory / "key.pem", directory / "broker.p12"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    subprocess.run(
        ["openssl", "pkcs12", "-export", "-in", str(cert), "-inkey", str(key),
         "-name", "broker", "-out", str(store), "-passout", f"pass:{STORE_PASSWORD}"],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, store


@dataclass
class SecureBroker:
    """A running secured broker: ``bootstrap``, the CA file and the users' passwords."""

    home: Path
    users: dict[str, str]
    port: int = field(default_factory=_free_port)
    controller_port: int = field(default_factory=_free_port)
    ca_file: Path = Path()
    proc: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _java(self, *args: str) -> list[str]:
        libs = LocalBroker(load_settings(environ={})).ensure_jars()
        java = shutil.which("java")
        assert java is not None, "java is needed for the broker"
        return [java, "-Xmx384m", "-XX:+UseG1GC", "-Djava.awt.headless=true",
                f"-Dlog4j.configuration=file:{self.home / 'log4j.properties'}",
                "-cp", str(libs / "*"), *args]  # fmt: skip

    def _write_config(self, keystore: Path) -> Path:
        jaas = (
            "org.apache.kafka.common.security.scram.ScramLoginModule required "
            f'username="{ADMIN}" password="{ADMIN_PASSWORD}";'
        )
        props = {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.voters": f"1@127.0.0.1:{self.controller_port}",
            "listeners": (
                f"SASL_SSL://127.0.0.1:{self.port},CONTROLLER://127.0.0.1:{self.controller_port}"
            ),
            "advertised.listeners": f"SASL_SSL://127.0.0.1:{self.port}",
            "listener.security.protocol.map": "SASL_SSL:SASL_SSL,CONTROLLER:PLAINTEXT",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "SASL_SSL",
            "sasl.enabled.mechanisms": MECHANISM,
            "sasl.mechanism.inter.broker.protocol": MECHANISM,
            f"listener.name.sasl_ssl.{MECHANISM.lower()}.sasl.jaas.config": jaas,
            "ssl.keystore.type": "PKCS12",
            "ssl.keystore.location": str(keystore),
            "ssl.keystore.password": STORE_PASSWORD,
            "ssl.key.password": STORE_PASSWORD,
            "ssl.truststore.type": "PEM",  # the broker is its own client (inter-broker)
            "ssl.truststore.location": str(self.ca_file),
            "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
            "allow.everyone.if.no.acl.found": "false",
            # the controller listener is plaintext on loopback: its principal is ANONYMOUS
            "super.users": f"User:{ADMIN};User:ANONYMOUS",
            "log.dirs": str(self.home / "logs"),
            "auto.create.topics.enable": "false",
            "offsets.topic.replication.factor": "1",
            "offsets.topic.num.partitions": "1",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "group.initial.rebalance.delay.ms": "0",
        }
        path = self.home / "server.properties"
        path.write_text("".join(f"{k}={v}\n" for k, v in props.items()))
        (self.home / "log4j.properties").write_text(
            "log4j.rootLogger=WARN, stdout\n"
            "log4j.appender.stdout=org.apache.log4j.ConsoleAppender\n"
            "log4j.appender.stdout.layout=org.apache.log4j.PatternLayout\n"
            "log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n\n"
        )
        return path

    def start(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        self.ca_file, keystore = make_tls_files(self.home)
        config = self._write_config(keystore)
        cluster = new_cluster_id()
        scram = [
            arg
            for name, password in {ADMIN: ADMIN_PASSWORD, **self.users}.items()
            for arg in ("--add-scram", f"{MECHANISM}=[name={name},password={password}]")
        ]
        subprocess.run(
            self._java("kafka.tools.StorageTool", "format", "-t", cluster, "-c", str(config),
                       *scram),
            check=True, capture_output=True, timeout=120,
        )  # fmt: skip
        with open(self.home / "broker.log", "ab") as out:
            self.proc = subprocess.Popen(
                self._java("kafka.Kafka", str(config)), stdout=out, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + START_TIMEOUT
        while not _port_open(self.port):
            assert self.proc.poll() is None, (self.home / "broker.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "the secured broker did not start"
            time.sleep(0.2)

    def allow(
        self, user: str, operations: list[str], *, pattern: str = "literal", **resources: str
    ) -> None:
        """Grant ``user`` the ``operations`` on resources of one kind, e.g.
        ``topic="a,b"`` or ``group="g"`` (comma-separated names; ``pattern="prefixed"``
        for name prefixes), through Kafka's own AclCommand (one JVM per call)."""
        admin_config = self.home / "admin.properties"
        admin_config.write_text(
            "security.protocol=SASL_SSL\n"
            f"sasl.mechanism={MECHANISM}\n"
            "sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule "
            f'required username="{ADMIN}" password="{ADMIN_PASSWORD}";\n'
            f"ssl.truststore.type=PEM\nssl.truststore.location={self.ca_file}\n"
        )
        ((kind, names),) = resources.items()
        ops = [arg for op in operations for arg in ("--operation", op)]
        targets = [arg for name in names.split(",") for arg in (f"--{kind}", name)]
        subprocess.run(
            self._java("kafka.admin.AclCommand", "--bootstrap-server", self.bootstrap,
                       "--command-config", str(admin_config), "--add",
                       "--allow-principal", f"User:{user}", *ops, *targets,
                       "--resource-pattern-type", pattern),
            check=True, capture_output=True, timeout=120,
        )  # fmt: skip

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def _port_open(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
        return True
    return False


@contextlib.contextmanager
def secure_broker(home: Path, users: dict[str, str]) -> Iterator[SecureBroker]:
    """A :class:`SecureBroker` with these SCRAM ``users`` (name → password), started and
    stopped around the block."""
    broker = SecureBroker(home, users)
    try:
        broker.start()
        yield broker
    finally:
        broker.stop()
