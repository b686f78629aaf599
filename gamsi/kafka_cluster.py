"""A local N-node Kafka cluster on 127.0.0.1: KRaft, every node broker and controller.

``gamsi kafka start --nodes 3`` (or ``[broker] nodes = 3``) runs three
:class:`~gamsi.kafka_broker.LocalBroker` processes, each with its own ports
(node i: clients on ``[broker] port + 2*(i-1)``, controller on
``[broker] controller_port + 2*(i-1)``), data directory ``<data_dir>/kafka/node-<i>``,
log and pid file, all formatted with one cluster id and voting in one controller
quorum (:mod:`gamsi.kafka_setup` writes their configuration). With one node it is
exactly the single broker under ``<data_dir>/kafka``.

Tests and benchmarks use :func:`throwaway_cluster` (or the ``kafka_cluster`` pytest
fixture) and :meth:`LocalCluster.kill` / :meth:`LocalCluster.start_node` to take a
broker away and bring it back. The methods block; from a coroutine call them through
``asyncio.to_thread`` (they also work when called on a running loop, blocking it).
"""

from __future__ import annotations

import contextlib
import signal
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

from gamsi.kafka_auth import kafka_client_options
from gamsi.kafka_broker import BrokerError, BrokerStatus, LocalBroker, new_cluster_id, settings_for
from gamsi.kafka_setup import run_sync
from gamsi.settings import Settings

T = TypeVar("T")


class LocalCluster:
    """``nodes`` local KRaft nodes (default ``[broker] nodes``) of ``settings``.

    ``bootstrap`` is every node's client address, comma separated
    (``"127.0.0.1:9092,127.0.0.1:9094,127.0.0.1:9096"``)."""

    def __init__(self, settings: Settings, nodes: int | None = None) -> None:
        self.settings = settings
        self.nodes = nodes or settings.broker.nodes
        if self.nodes < 1:
            raise BrokerError(f"a cluster needs 1 or more nodes, not {self.nodes}")
        self.members = [LocalBroker(settings, i, self.nodes) for i in range(1, self.nodes + 1)]
        self.bootstrap = ",".join(m.bootstrap for m in self.members)
        # aiokafka client options for this cluster (its listeners are PLAINTEXT)
        local = replace(settings.kafka, bootstrap=self.bootstrap, security_protocol="PLAINTEXT")
        self.client_options = kafka_client_options(replace(settings, kafka=local))
        self.timeout = settings.broker.start_timeout

    def member(self, node: int) -> LocalBroker:
        """The LocalBroker of node ``node`` (1-based); BrokerError for another number."""
        if not 1 <= node <= self.nodes:
            raise BrokerError(f"node {node} is not one of 1..{self.nodes}")
        return self.members[node - 1]

    def node_port(self, node: int) -> int:
        """Client port of node ``node`` (1-based)."""
        return self.member(node).port

    def status(self) -> list[BrokerStatus]:
        """One status per node, in node order."""
        return [m.status() for m in self.members]

    # -- starting --------------------------------------------------------------------

    def _cluster_id(self) -> str:
        """The id the formatted nodes share, or a new one; BrokerError if they differ."""
        ids = {m.cluster_id() for m in self.members} - {None}
        if len(ids) > 1:
            raise BrokerError(
                f"the nodes under {self.settings.data_dir / 'kafka'} belong to different "
                f"clusters ({', '.join(sorted(str(i) for i in ids))}); remove those node "
                "directories to start afresh"
            )
        return ids.pop() if ids else new_cluster_id()

    def start(self) -> list[BrokerStatus]:
        """Start every node that is not running (idempotent) and wait until each answers
        and the cluster's metadata lists all of them; returns their statuses.

        All processes are launched before any is waited for: a node answers clients
        only once a majority of the controllers runs. Raises BrokerError when a node
        exits, a port is taken by another process, or ``[broker] start_timeout`` passes.
        """
        self.members[0].ensure_jars()
        cluster_id = self._cluster_id()
        launched = {m.node: m.launch(cluster_id) for m in self.members}
        self._wait(list(launched), launched)
        return self.status()

    def start_node(self, node: int) -> BrokerStatus:
        """Start node ``node`` again (after :meth:`kill` or :meth:`stop_node`) and wait
        until it answers and is registered in the cluster's metadata."""
        member = self.member(node)
        proc = member.launch(self._cluster_id())
        self._wait([node], {node: proc})
        return member.status()

    def _wait(self, nodes: list[int], procs: dict[int, Any]) -> None:
        deadline = time.monotonic() + self.timeout
        waiting = set(nodes)
        while waiting:
            for node in sorted(waiting):
                member, proc = self.member(node), procs.get(node)
                if proc is not None and proc.poll() is not None:
                    raise BrokerError(
                        f"node {node} exited with code {proc.returncode}; see {member.log_file}"
                    )
                if member.answering(0.5):
                    waiting.discard(node)
            if waiting and time.monotonic() > deadline:
                raise BrokerError(
                    f"node(s) {sorted(waiting)} did not open their ports within "
                    f"{self.timeout:.0f} s; see {self.member(min(waiting)).log_file}"
                )
            if waiting:
                time.sleep(0.2)
        self.wait_registered(max(5.0, deadline - time.monotonic()))

    # -- watching ----------------------------------------------------------------------

    def wait_registered(self, within: float) -> None:
        """Wait until every running node's metadata lists every running node as a broker
        (each node's view is asked: they converge one by one). A killed node stays listed
        until its session expires (``broker.session.timeout.ms``, 9 s by default), which
        this does not wait for. Raises BrokerError after ``within`` seconds."""

        async def missing() -> set[int]:
            running = {m.node for m in self.members if m.pid() is not None}
            return running - await _listed_by_all(self.client_options, running)

        self._until(lambda: not run_sync(missing), within, "every running node registered")

    def wait_in_sync(self, within: float = 60.0, topics: list[str] | None = None) -> None:
        """Wait until every partition of ``topics`` (default: all) has all its replicas in
        sync (ISR = replicas) in every running node's metadata, e.g. after
        :meth:`start_node`. BrokerError after ``within``."""
        self._until(lambda: not run_sync(lambda: self._lagging(topics)), within, "ISR full")

    async def _lagging(self, topics: list[str] | None) -> list[tuple[int, str, int]]:
        """(node, topic, partition) of every partition that a running node's metadata
        shows with an ISR smaller than its replicas, or not at all (a node that has not
        yet learned the topic): each node is asked, as clients may be sent to any."""
        from gamsi.topics import metadata_of_each

        running = {m.node for m in self.members if m.pid() is not None}
        answers = await _with_admin(
            self.client_options, lambda admin: metadata_of_each(admin, running, topics)
        )
        lagging = []
        for node, answer in answers.items():
            known = {t["topic"] for t in answer["topics"] if t["error_code"] == 0}
            lagging += [(node, t, -1) for t in topics or () if t not in known]
            lagging += [
                (node, t["topic"], p["partition"])
                for t in answer["topics"]
                for p in t["partitions"]
                if len(p["isr"]) < len(p["replicas"])
            ]
        return lagging

    def _until(self, check: Callable[[], bool], within: float, what: str) -> None:
        deadline = time.monotonic() + within
        last: Exception | None = None
        while time.monotonic() < deadline:
            try:
                if check():
                    return
            except Exception as exc:  # a node restarting refuses for a while
                last = exc
            time.sleep(0.3)
        raise BrokerError(f"cluster {self.bootstrap}: not {what} within {within:.0f} s ({last})")

    # -- stopping ----------------------------------------------------------------------

    def kill(self, node: int) -> None:
        """SIGKILL node ``node``'s process (a crash: no controlled shutdown) and reap it."""
        member = self.member(node)
        pid = member.signal(signal.SIGKILL)
        if pid is not None:
            member.reap(pid, time.monotonic() + 10)

    def stop_node(self, node: int, timeout: float = 30.0) -> bool:
        """Stop node ``node`` cleanly (SIGTERM, SIGKILL after ``timeout``); True if it ran."""
        return self.member(node).stop(timeout)

    def stop(self, timeout: float = 30.0) -> bool:
        """SIGTERM every node at once, SIGKILL those still running after ``timeout`` s;
        True if any ran. (One at a time, the last nodes would wait for a controller
        majority that has already gone.)"""
        pids = {m.node: m.signal(signal.SIGTERM) for m in self.members}
        deadline = time.monotonic() + timeout
        for member in self.members:
            pid = pids[member.node]
            if pid is None:
                member.pid_file.unlink(missing_ok=True)
            else:
                member.reap(pid, deadline)
        return any(pid is not None for pid in pids.values())


def running_elsewhere(settings: Settings, nodes: int) -> list[LocalBroker]:
    """Nodes running under ``<data_dir>/kafka`` that a cluster of ``nodes`` does not count:
    the single broker when ``nodes`` > 1, node directories beyond ``nodes`` otherwise.
    ``gamsi kafka stop`` stops them too, so a changed node count never leaves one running."""
    root = settings.data_dir / "kafka"
    others = [LocalBroker(settings)] if nodes > 1 else []
    for home in sorted(root.glob("node-*")) if root.is_dir() else []:
        number = home.name.removeprefix("node-")
        if number.isdigit() and (nodes == 1 or int(number) > nodes):
            others.append(LocalBroker(settings, int(number), max(2, int(number))))
    return [b for b in others if b.pid() is not None]


@contextlib.contextmanager
def throwaway_cluster(data_dir: Path, port: int, nodes: int = 3) -> Iterator[LocalCluster]:
    """A cluster of its own for tests and benchmarks: ``nodes`` nodes in ``data_dir``,
    clients on ``port``, ``port+2``, ``port+4``…, controllers on ``port+1``, ``port+3``…;
    started on entry, stopped on exit (SIGTERM, then SIGKILL), even when the body fails."""
    cluster = LocalCluster(settings_for(data_dir, port), nodes)
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop(timeout=20.0)


async def _with_admin(options: dict[str, Any], use: Callable[[Any], Awaitable[T]]) -> T:
    """``await use(admin)`` with an AIOKafkaAdminClient of ``options``, closed afterwards."""
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(**options, request_timeout_ms=5000)
    await admin.start()
    try:
        return await use(admin)
    finally:
        await admin.close()


async def _describe(options: dict[str, Any], call: str, *args: Any) -> Any:
    """``AIOKafkaAdminClient.<call>(*args)`` on a client of its own."""
    return await _with_admin(options, lambda admin: getattr(admin, call)(*args))


async def _listed_by_all(options: dict[str, Any], nodes: set[int]) -> set[int]:
    """The broker ids that the metadata of every node in ``nodes`` lists."""
    from gamsi.topics import metadata_of_each

    async def ask_each(admin: Any) -> set[int]:
        answers = (await metadata_of_each(admin, nodes, [])).values()
        listed = [{b["node_id"] for b in a["brokers"]} for a in answers]
        return set.intersection(*listed) if listed else set()

    return await _with_admin(options, ask_each)
