"""Two ``gamsi history run`` processes in one consumer group share the metrics, events,
deliveries and remediations partitions (issue 16, part 4), on the real broker and chDB.

chDB is embedded: two processes cannot share one store, so each writer owns a chDB
directory of its own and the test reads the union of both. That union is what one shared
ClickHouse would hold, so it is the group's promise checked directly:

* while both writers run, and across the rebalance when the second one joins, each record
  is stored once — in exactly one of the two stores — and none is missing; both stores
  get some of the records (the partitions are shared);
* after one writer is SIGKILLed mid-stream, the survivor takes its partitions over from
  the last committed offsets: nothing is lost, and a record can be stored twice only at
  or after the killed writer's committed offset of its partition (inserted, not yet
  committed) — at least once, as docs/history.md says.
"""

from __future__ import annotations

import asyncio
import signal
import time
import urllib.error
import urllib.request
from collections import Counter
from dataclasses import replace
from pathlib import Path

import orjson
from aiokafka import AIOKafkaProducer

from gamsi.remediator.records import Remediation, encode_remediation
from gamsi.schemas.codec import encode
from gamsi.schemas.records import MetricBatch, Sample, SeverityEvent
from gamsi.settings import Settings
from gamsi.topics import deliveries_topic
from tests.integration.kafka_io import free_port, gamsi_cli, gamsi_service, group_offsets, until

PER_PHASE = 24
"""Records per topic and phase (hosts cycle over 12 names, keys spread over partitions)."""

Where = tuple[str, int, int]
"""(topic, partition, offset) of one produced record."""


def _writer(settings: Settings, root: Path, name: str) -> Settings:
    """A writer's settings: the shared group and topics, its own chDB store and port."""
    data = root / name
    history = replace(
        settings.history, dsn=f"chdb://{data / 'chdb'}", query_port=free_port(), flush_interval=0.2
    )
    return replace(settings, paths=replace(settings.paths, data_dir=str(data)), history=history)


class Records:
    """Produces identifiable records on the four topics and remembers where each went."""

    def __init__(self, settings: Settings, unique: str) -> None:
        self.s = settings
        self.unique = unique
        self.where: dict[tuple[str, str], Where] = {}  # (table, key) → its coordinates
        self.n = 0

    async def phase(self, producer: AIOKafkaProducer, count: int, pause: float = 0.0) -> None:
        for _ in range(count):
            self.n += 1
            n, host = self.n, f"h-{self.unique}-{self.n % 12}"
            key = f"{self.unique}-{n}"
            now = time.time()
            k = self.s.kafka
            event = SeverityEvent(key, host, "cpu.util", "", "cpu", 4, 0, "raise", 97.0, 90.0, now)
            delivery = {"v": 1, "kind": "delivery", "ts": now, "event_id": key, "host": host}
            delivery.update(channel="slack", result="sent")
            batch = MetricBatch(host, now, [Sample("x", n)])
            records = [
                ("samples", str(n), k.metrics_topic, encode(batch)),
                ("events", key, k.events_topic, encode(event)),
                ("deliveries", key, deliveries_topic(self.s), orjson.dumps(delivery)),
                (
                    "remediations",
                    key,
                    self.s.remediator.results_topic,
                    encode_remediation(Remediation(now, "ok", host, "restart", command_id=key)),
                ),
            ]  # fmt: skip
            for table, ident, topic, value in records:
                meta = await producer.send_and_wait(topic, value, key=host.encode())
                self.where[(table, ident)] = (topic, meta.partition, meta.offset)
            if pause:
                await asyncio.sleep(pause)

    def topics(self) -> set[str]:
        return {topic for topic, _, _ in self.where.values()}


async def _offsets(settings: Settings) -> dict[tuple[str, int], int]:
    """The writers' group's committed offsets by (topic, partition)."""
    return await group_offsets(settings, settings.history.group_id)


async def _all_committed(settings: Settings, records: Records) -> bool:
    ends: dict[tuple[str, int], int] = {}
    for topic, partition, offset in records.where.values():
        ends[(topic, partition)] = max(ends.get((topic, partition), 0), offset + 1)
    committed = await _offsets(settings)
    return all(committed.get(tp, -1) >= end for tp, end in ends.items())


def _joined(settings: Settings) -> bool:
    """The writer's /health says it is up and has joined the group (200)."""
    url = f"http://127.0.0.1:{settings.history.query_port}/health"
    try:
        with urllib.request.urlopen(url, timeout=1.0) as resp:
            return bool(resp.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def _stored(settings: Settings, unique: str) -> Counter[tuple[str, str]]:
    """(table, key) → rows in this writer's store (read by a fresh process: chDB)."""
    like = f"LIKE 'h-{unique}-%'"
    sql = (
        f"SELECT 'samples' AS t, toString(toUInt64(value)) AS k FROM samples WHERE host {like} "
        f"UNION ALL SELECT 'events', event_id FROM events WHERE host {like} "
        f"UNION ALL SELECT 'deliveries', event_id FROM deliveries WHERE host {like} "
        f"UNION ALL SELECT 'remediations', command_id FROM remediations WHERE host {like}"
    )
    done = gamsi_cli(settings, "history", "query", "--json", sql)
    assert done.returncode == 0, done.stderr
    return Counter((t, k) for t, k in orjson.loads(done.stdout)["rows"])


async def test_two_writers_share_the_partitions_and_store_each_record_once(
    settings: Settings, unique: str, tmp_path: Path
) -> None:
    a, b = _writer(settings, tmp_path, "a"), _writer(settings, tmp_path, "b")
    records = Records(settings, unique)
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka.bootstrap, acks="all")
    await producer.start()
    try:
        with gamsi_service(a, "history", "run", log=tmp_path / "a.log") as writer_a:
            await until(lambda: asyncio.to_thread(_joined, a), "writer a joined")
            await records.phase(producer, PER_PHASE)
            await until(lambda: _all_committed(a, records), "phase 1 committed by a")
            with gamsi_service(b, "history", "run", log=tmp_path / "b.log"):
                await until(lambda: asyncio.to_thread(_joined, b), "writer b joined (rebalance)")
                shared = len(records.where)
                await records.phase(producer, PER_PHASE)
                await until(lambda: _all_committed(a, records), "phase 2 committed")
                before_kill = dict(records.where)
                sending = asyncio.create_task(records.phase(producer, PER_PHASE, pause=0.02))
                await until(
                    lambda: asyncio.sleep(0, len(records.where) >= len(before_kill) + 40),
                    "phase 3 under way",
                )
                writer_a.send_signal(signal.SIGKILL)
                writer_a.wait(timeout=30)
                at_kill = await _offsets(a)  # the survivor has not taken over yet
                await sending
                await until(lambda: _all_committed(b, records), "phase 3 committed by b", 120)
        in_a, in_b = _stored(a, unique), _stored(b, unique)
    finally:
        await producer.stop()

    union = in_a + in_b
    expected = set(records.where)
    missing, unknown = sorted(expected - set(union)), sorted(set(union) - expected)
    assert (missing, unknown) == ([], []), "every record stored, nothing else"
    phase_2 = list(before_kill)[shared:]  # produced while both ran (insertion order)
    assert any(r in in_a for r in phase_2), "writer a stored part of phase 2"
    assert any(r in in_b for r in phase_2), "writer b stored part of phase 2: partitions shared"
    twice_before_kill = [r for r in before_kill if union[r] != 1]
    assert twice_before_kill == [], "each record stored once while both writers ran"
    for record, copies in union.items():
        topic, partition, offset = records.where[record]
        if copies > 1:
            assert copies == 2, record
            assert offset >= at_kill.get((topic, partition), 0), (
                f"{record} stored twice below the offset committed at the kill"
            )
    twice = sum(union.values()) - len(expected)
    print(f"records: {len(expected)}; stored twice after the SIGKILL: {twice}")
