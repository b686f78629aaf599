"""Several `gamsi streams run` processes in one group, for the failover and scale-out tests.

:func:`stream_workers` starts N real worker subprocesses with the same settings (the same
app id, data directory and topics; each its own /metrics port), the way an operator runs
them; :func:`group_members` reads which worker holds which partitions from the broker's
own view of the consumer group (each worker's client id ends with its pid).
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.coordinator.protocol import ConsumerProtocolMemberAssignment
from aiokafka.errors import GroupCoordinatorNotAvailableError

from gamsi.settings import Settings
from tests.integration.kafka_io import free_port, gamsi_service


@dataclass(frozen=True)
class Member:
    """One live member of the stream workers' group, as the group coordinator sees it."""

    pid: int  # the worker process (from its client id)
    partitions: frozenset[int]  # its metrics partitions
    leader: bool  # holds Faust's leader partition: sends the ticks


@dataclass(frozen=True)
class Group:
    state: str  # "Stable", "PreparingRebalance", ...
    members: tuple[Member, ...]


async def group_members(settings: Settings) -> Group:
    """The stream workers' group now: its state and each member's metrics partitions."""
    app_id, topic = settings.streams.app_id, settings.kafka.metrics_topic
    leader_topic = f"{app_id}-__assignor-__leader"
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka.bootstrap)
    await admin.start()
    try:
        (response,) = await admin.describe_consumer_groups([app_id])
    except GroupCoordinatorNotAvailableError:  # a new broker still creating its offsets topic
        return Group("CoordinatorNotAvailable", ())
    finally:
        await admin.close()
    _, _, state, _, _, raw_members = response.groups[0][:6]
    members = []
    for _member_id, client_id, _host, _metadata, raw in raw_members:
        pid = int(client_id.rsplit("-", 1)[1])
        assigned = ConsumerProtocolMemberAssignment.decode(raw).assignment if raw else []
        owned = dict(assigned)
        members.append(Member(pid, frozenset(owned.get(topic, ())), bool(owned.get(leader_topic))))
    return Group(state, tuple(members))


def stable_split(group: Group, workers: int, partitions: int) -> bool:
    """True when ``workers`` members share all ``partitions`` metrics partitions, each some."""
    covered = [p for m in group.members for p in m.partitions]
    return (
        group.state == "Stable"
        and len(group.members) == workers
        and all(m.partitions for m in group.members)
        and sorted(covered) == list(range(partitions))
    )


@contextmanager
def stream_workers(
    settings: Settings, n: int, logs: Path
) -> Iterator[dict[int, subprocess.Popen[bytes]]]:
    """Run ``n`` `gamsi streams run` processes with ``settings``: {pid: process}. They
    differ only in ``GAMSI_STREAMS_METRICS_PORT``; each writes ``logs/worker-<i>.log``.
    Every process still running at the end is stopped (SIGTERM, then SIGKILL)."""
    with ExitStack() as stack:
        procs = {}
        for i in range(n):
            proc = stack.enter_context(
                gamsi_service(
                    settings,
                    "streams",
                    "run",
                    log=logs / f"worker-{i}.log",
                    extra_env={"GAMSI_STREAMS_METRICS_PORT": str(free_port())},
                )
            )
            procs[proc.pid] = proc
        yield procs


__all__ = ["Group", "Member", "group_members", "stable_split", "stream_workers"]
