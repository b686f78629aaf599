"""The local broker's configuration and its errors (no broker is started here)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from gamsi.kafka_broker import BrokerError, LocalBroker
from gamsi.settings import load_settings
from gamsi.supervisor import uses_local_broker


def _broker(tmp_path: Path) -> LocalBroker:
    s = load_settings(environ={})
    s = replace(
        s,
        paths=replace(s.paths, data_dir=str(tmp_path / "data"), cache_dir=str(tmp_path / "cache")),
        broker=replace(s.broker, port=49092, controller_port=49093),
    )
    return LocalBroker(s)


def test_server_properties_are_loopback_kraft_without_auto_creation(tmp_path: Path) -> None:
    broker = _broker(tmp_path)
    props = dict(line.split("=", 1) for line in broker._write_config().read_text().splitlines())
    assert props["process.roles"] == "broker,controller"
    assert props["listeners"] == "PLAINTEXT://127.0.0.1:49092,CONTROLLER://127.0.0.1:49093"
    assert props["auto.create.topics.enable"] == "false"
    assert props["log.dirs"].startswith(str(tmp_path / "data"))
    assert broker.libs == tmp_path / "cache" / "kafka-3.9.1" / "libs"


def test_missing_maven_is_explained(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(BrokerError, match="Maven"):
        _broker(tmp_path).ensure_jars()


def test_stopped_broker_reports_stopped(tmp_path: Path) -> None:
    broker = _broker(tmp_path)
    assert broker.pid() is None
    assert not broker.status().running
    assert broker.stop() is False


def test_stale_pid_file_is_not_our_broker(tmp_path: Path) -> None:
    broker = _broker(tmp_path)
    broker.home.mkdir(parents=True)
    broker.pid_file.write_text("1\n")  # pid 1 exists but is not kafka.Kafka
    assert broker.pid() is None


def test_up_manages_the_broker_only_when_bootstrap_is_local() -> None:
    s = load_settings(environ={})
    assert uses_local_broker(s)
    assert not uses_local_broker(replace(s, kafka=replace(s.kafka, bootstrap="kafka:9092")))


def test_a_cluster_id_never_starts_with_a_dash(monkeypatch: pytest.MonkeyPatch) -> None:
    """`kafka-storage format -t -Q7o...` reads the id as an option and fails: 1 start in 64
    (seen in CI). The first random id here starts with '-'; the second is taken."""
    import uuid

    from gamsi.kafka_broker import new_cluster_id

    ids = iter([uuid.UUID(bytes=b"\xf8" + b"\x00" * 15), uuid.UUID(int=1)])
    monkeypatch.setattr(uuid, "uuid4", lambda: next(ids))
    cluster_id = new_cluster_id()
    assert not cluster_id.startswith("-")
    assert len(cluster_id) == 22
