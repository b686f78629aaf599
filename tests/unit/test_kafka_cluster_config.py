"""The local cluster's configuration: ports, KRaft voters and replication for 1, 2, 3 nodes
(no broker is started here), and the replication of Gamsi's topics on such clusters."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from gamsi.kafka_broker import LocalBroker, settings_for
from gamsi.kafka_cluster import LocalCluster
from gamsi.kafka_setup import replication_for, server_properties
from gamsi.settings import ConfigError, load_settings
from gamsi.topics import resolve_replication, topic_specs


def _props(tmp_path: Path, node: int, nodes: int) -> dict[str, str]:
    conf = settings_for(tmp_path, 39300).broker
    return server_properties(conf, node, nodes, tmp_path / f"logs-{node}")


def test_each_node_has_its_own_ports_and_all_nodes_vote(tmp_path: Path) -> None:
    voters = "1@127.0.0.1:39301,2@127.0.0.1:39303,3@127.0.0.1:39305"
    for node, port in ((1, 39300), (2, 39302), (3, 39304)):
        props = _props(tmp_path, node, 3)
        assert props["node.id"] == str(node)
        assert props["listeners"] == (
            f"PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{port + 1}"
        )
        assert props["advertised.listeners"] == f"PLAINTEXT://127.0.0.1:{port}"
        assert props["controller.quorum.voters"] == voters
        assert props["process.roles"] == "broker,controller"


@pytest.mark.parametrize(
    ("nodes", "factor", "min_isr"), [(1, "1", "1"), (2, "2", "1"), (3, "3", "2"), (5, "3", "2")]
)
def test_replication_follows_the_node_count(
    tmp_path: Path, nodes: int, factor: str, min_isr: str
) -> None:
    props = _props(tmp_path, 1, nodes)
    assert props["offsets.topic.replication.factor"] == factor
    assert props["transaction.state.log.replication.factor"] == factor
    assert props["default.replication.factor"] == factor
    assert props["transaction.state.log.min.isr"] == min_isr
    assert props["min.insync.replicas"] == min_isr


def test_a_node_outside_the_cluster_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"node 4 is not one of 1\.\.3"):
        _props(tmp_path, 4, 3)


def test_single_node_keeps_its_data_directory_and_cluster_nodes_get_their_own(
    tmp_path: Path,
) -> None:
    s = settings_for(tmp_path, 39300)
    assert LocalBroker(s).home == tmp_path / "kafka"
    one = LocalCluster(s, 1)
    assert [m.home for m in one.members] == [tmp_path / "kafka"]
    assert one.bootstrap == "127.0.0.1:39300"
    three = LocalCluster(s, 3)
    assert [m.home for m in three.members] == [tmp_path / "kafka" / f"node-{i}" for i in (1, 2, 3)]
    assert three.bootstrap == "127.0.0.1:39300,127.0.0.1:39302,127.0.0.1:39304"
    assert [three.node_port(i) for i in (1, 2, 3)] == [39300, 39302, 39304]
    assert len({m.pid_file for m in three.members} | {m.log_file for m in three.members}) == 6


def test_the_nodes_setting_is_the_default_size(tmp_path: Path) -> None:
    s = settings_for(tmp_path, 39300)
    assert LocalCluster(replace(s, broker=replace(s.broker, nodes=3))).nodes == 3
    assert LocalCluster(replace(s, broker=replace(s.broker, nodes=3)), 2).nodes == 2
    with pytest.raises(ConfigError, match=r"\[broker\] nodes: expected 1 or more, got 0"):
        load_settings(environ={"GAMSI_BROKER_NODES": "0"})


def test_automatic_replication_is_at_most_three() -> None:
    assert [resolve_replication(0, n) for n in (1, 2, 3, 7)] == [1, 2, 3, 3]
    assert resolve_replication(2, 3) == 2
    assert replication_for(3) == (3, 2)
    with pytest.raises(ConfigError, match=r"\[kafka\] replication: 3 copies.* 1 broker"):
        resolve_replication(3, 1, "127.0.0.1:9092")


def test_every_topic_gets_min_insync_replicas_from_its_replication() -> None:
    s = load_settings(environ={})
    assert s.kafka.replication == 0  # automatic by default
    for factor, isr in ((3, "2"), (2, "1"), (1, "1")):
        specs = topic_specs(s, factor)
        assert {t.replication for t in specs} == {factor}
        assert all(t.config["min.insync.replicas"] == isr for t in specs), factor
    # unresolved (names and partitions only): no min.insync.replicas is claimed
    assert all("min.insync.replicas" not in t.config for t in topic_specs(s))
    with pytest.raises(ConfigError, match="replication"):
        load_settings(environ={"GAMSI_KAFKA_REPLICATION": "-1"})
