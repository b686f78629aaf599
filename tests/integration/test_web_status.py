"""The fleet picture rebuilt from history (chDB) plus the events and acks topics.

This is what a restarted web service and ``gamsi status`` do: history holds the
older events, the topic the newer ones history has not stored yet, and the
acks topic which problems someone took. The store is the session's one chDB
path, so assertions look only at this test's unique hosts.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from dataclasses import replace

import orjson

from gamsi.history.rows import Buffer
from gamsi.history.store import Reader, open_client, open_store
from gamsi.notifier.ack import ack_record
from gamsi.schemas.codec import encode
from gamsi.schemas.records import MetricBatch, Sample, SeverityEvent
from gamsi.settings import Settings, to_environ
from gamsi.web.load import build_status
from gamsi.web.status import Filters
from tests.integration.kafka_io import produce

NOW = time.time()


def _event(host: str, sev: int, prev: int, ago: float, event_id: str) -> SeverityEvent:
    ts = NOW - ago
    return SeverityEvent(
        event_id=event_id,
        host=host,
        item="cpu.util",
        instance="",
        watch="cpu-busy",
        severity=sev,
        previous=prev,
        transition="recover" if sev == 0 else "raise",
        value=95.0 if sev else 10.0,
        threshold=90.0,
        ts=ts,
        since=ts if sev else 0.0,
        emitted_at=ts,
    )


def store_history(
    settings: Settings, events: list[SeverityEvent], batches: list[MetricBatch]
) -> None:
    """Write events and metric batches into the session's chDB store, as the writer does."""
    buf = Buffer()
    for e in events:
        buf.add_event(e)
    for b in batches:
        buf.add_batch(b)
    client = open_store(settings)
    try:
        for columns in buf.tables():
            if len(columns):
                client.insert(
                    columns.table.name,
                    columns.data,
                    column_names=list(columns.table.columns),
                    column_oriented=True,
                )
    finally:
        client.close()


def test_picture_from_history_then_topic_then_acks(settings: Settings, unique: str) -> None:
    a, b, c = f"a-{unique}", f"b-{unique}", f"c-{unique}"
    settings = replace(settings, history=replace(settings.history, query_port=0))
    store_history(
        settings,
        [_event(a, 4, 0, 600, f"{a}-1")],
        [
            MetricBatch(
                host=h, ts=NOW - 30, os="linux", tags=["web"], samples=[Sample("cpu.util", 5)]
            )
            for h in (a, b, c)
        ],
    )
    later = [_event(a, 0, 4, 10, f"{a}-2"), _event(b, 3, 0, 5, f"{b}-1")]
    asyncio.run(
        produce(
            settings,
            settings.kafka.events_topic,
            [(e.host.encode(), encode(e)) for e in later],
        )
    )
    ack = ack_record(f"{b}-1", "kim", NOW)
    asyncio.run(
        produce(settings, settings.notifier.acks_topic, [(f"{b}-1".encode(), orjson.dumps(ack))])
    )
    reader = Reader(open_client(settings, read_only=True))
    try:
        status = asyncio.run(build_status(settings, reader))
    finally:
        reader.close()
    mine = [x for x in status.select(Filters(hosts=(f"*-{unique}",)))]
    by_host = {x.host: x.to_dict() for x in mine}
    assert by_host[a]["severity"] == 0  # raised in history, recovered on the topic
    assert by_host[b]["severity"] == 3
    assert by_host[b]["acked_by"] == "kim"
    assert by_host[c]["severity"] == 0  # seeded from the inventory: reports, never raised
    assert mine[0].host == b  # worst first


def test_gamsi_status_fail_on_and_json(settings: Settings, unique: str) -> None:
    """The command a cron job runs: JSON out, exit 1 when something is at or above danger."""
    host = f"s-{unique}"
    e = _event(host, 4, 0, 1, f"{host}-1")
    asyncio.run(produce(settings, settings.kafka.events_topic, [(host.encode(), encode(e))]))
    env = {**to_environ(settings), "GAMSI_HISTORY_QUERY_PORT": "0"}
    env["GAMSI_HISTORY_DSN"] = settings.history.dsn + "-status"
    argv = [sys.executable, "-m", "gamsi", "status", "--json", "--host", host]
    done = subprocess.run([*argv, "--fail-on", "danger"], env=env, capture_output=True, timeout=120)
    assert done.returncode == 1, done.stderr.decode()[-2000:]
    body = orjson.loads(done.stdout)
    assert [c["host"] for c in body["cells"]] == [host]
    assert body["counts"]["urgent"] >= 1
    calm = subprocess.run([*argv, "--fail-on", "fatal"], env=env, capture_output=True, timeout=120)
    assert calm.returncode == 0, calm.stderr.decode()[-2000:]
