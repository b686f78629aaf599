"""Shared fixtures: the real Kafka broker and the real ClickHouse engine.

The broker is the project's own (gamsi.kafka_broker.LocalBroker) started once per
test session in a temporary data directory on its own port, unless
GAMSI_TEST_BOOTSTRAP names a broker that is already running (then it is used and
left alone). Each test gets topics of its own, so tests never see each other's
messages. chDB allows one store per process, so the whole session shares one
store directory; tests tell their rows apart by unique host names.
"""

from __future__ import annotations

import asyncio
import os
import threading
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from gamsi.settings import Settings, load_settings

if TYPE_CHECKING:
    from gamsi.kafka_cluster import LocalCluster

TEST_PORT = int(os.environ.get("GAMSI_TEST_KAFKA_PORT", "29092"))
"""The session broker (controller on the next port): below Linux's ephemeral range
(32768-60999), where an outgoing connection may already hold a port."""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/integration" in str(item.path).replace(os.sep, "/"):
            item.add_marker(pytest.mark.integration)
        if "kafka_cluster" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.cluster)


@pytest.fixture(scope="session")
def kafka_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    given = os.environ.get("GAMSI_TEST_BOOTSTRAP")
    if given:
        yield given
        return
    from gamsi.kafka_broker import throwaway_broker

    with throwaway_broker(tmp_path_factory.mktemp("kafka-data"), TEST_PORT) as bootstrap:
        yield bootstrap


@pytest.fixture(scope="session")
def kafka_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    """A 3-node KRaft cluster of this test session (gamsi.kafka_cluster), started by the
    first test that asks for it: client ports GAMSI_TEST_CLUSTER_PORT (default 28500, below
    Linux's ephemeral range 32768-60999, where an outgoing connection may hold the port),
    +2, +4; controllers one above each. Tests using it are marked ``cluster``."""
    from gamsi.kafka_cluster import throwaway_cluster

    port = int(os.environ.get("GAMSI_TEST_CLUSTER_PORT", "28500"))
    with throwaway_cluster(tmp_path_factory.mktemp("kafka-cluster"), port, nodes=3) as cluster:
        yield cluster


@pytest.fixture(scope="session")
def chdb_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The one embedded ClickHouse store of this test process."""
    return tmp_path_factory.mktemp("chdb") / "store"


@pytest.fixture
def unique() -> str:
    return uuid.uuid4().hex[:10]


@pytest.fixture
def settings(kafka_bootstrap: str, chdb_dir: Path, tmp_path: Path, unique: str) -> Settings:
    """Settings pointing at the test broker, with topics and groups of this test only."""
    from gamsi.topics import ensure_topics

    base = load_settings(environ={})
    s = replace(
        base,
        paths=replace(base.paths, data_dir=str(tmp_path / "data")),
        kafka=replace(
            base.kafka,
            bootstrap=kafka_bootstrap,
            metrics_topic=f"t-{unique}.metrics",
            events_topic=f"t-{unique}.events",
            deadletter_topic=f"t-{unique}.deadletter",
            policies_topic=f"t-{unique}.policies",
            partitions=2,
        ),
        streams=replace(base.streams, app_id=f"t-{unique}-streams"),
        notifier=replace(
            base.notifier,
            group_id=f"t-{unique}-notifier",
            ack_port=0,
            delivery_topic=f"t-{unique}.deliveries",
            ledger_topic=f"t-{unique}.ledger",
            acks_topic=f"t-{unique}.acks",
            silences_topic=f"t-{unique}.silences",
        ),
        history=replace(base.history, dsn=f"chdb://{chdb_dir}", group_id=f"t-{unique}-history"),
        remediator=replace(
            base.remediator,
            group_id=f"t-{unique}-remediator",
            commands_topic=f"t-{unique}.commands",
            results_topic=f"t-{unique}.remediations",
        ),
    )
    asyncio.run(ensure_topics(s))
    return s


@pytest.fixture(autouse=True)
def _no_leaked_threads() -> Iterator[None]:
    """Fail a test that leaves non-daemon threads running (faust's suite does the same)."""
    before = set(threading.enumerate())
    yield
    leaked = [t for t in threading.enumerate() if t not in before and t.is_alive() and not t.daemon]
    for t in leaked:
        t.join(timeout=5)
    leaked = [t for t in leaked if t.is_alive()]
    assert not leaked, f"test leaked threads: {leaked}"
