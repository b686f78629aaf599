"""The history query endpoint on the real chDB engine: each layer stops the probes of
issue 10 section 4, queries are bounded, and slow ones stop neither ingestion nor the
service. Real Kafka, real chDB, the real endpoint."""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from pathlib import Path

import pytest

from gamsi.history import store
from gamsi.history.client import QueryError, remote, service_answers
from gamsi.history.store import Reader, open_client, open_store
from gamsi.history.writer import run_history
from gamsi.schemas.codec import encode
from gamsi.schemas.records import MetricBatch, Sample
from gamsi.settings import Settings
from tests.integration.kafka_io import committed, free_port, produce, until

WAIT = 60.0
SLOW = "SELECT count() FROM system.columns AS a, system.columns AS b, system.columns AS c"
"""An allowed query that runs far longer than any bound (2,700³ rows on chDB 26.9)."""


@pytest.fixture
def hs(settings: Settings) -> Settings:
    history = replace(settings.history, query_port=free_port(), flush_interval=0.2)
    return replace(settings, history=history)


ENGINE_PROBES = [
    "SELECT count() FROM file('/etc/passwd', 'LineAsString')",
    "SELECT count() FROM file('/proc/self/environ', 'RawBLOB')",
    "SELECT count() FROM url('http://127.0.0.1:9/x', 'LineAsString')",
    "SELECT count() FROM s3('http://127.0.0.1:9/bucket/x', 'LineAsString')",
    "SELECT * FROM remote('127.0.0.1:9', system.one)",
    "SELECT * FROM executable('x.sh', TSV, 'a String')",
    "SELECT 1 SETTINGS max_execution_time = 0",
    "SET readonly = 0",
]


@pytest.mark.parametrize("sql", ENGINE_PROBES)
def test_the_engine_alone_refuses_table_functions_and_settings(
    settings: Settings, sql: str
) -> None:
    """The second layer without the first: the raw probe on the endpoint's client."""
    open_store(settings).close()
    reader = Reader(open_client(settings, read_only=True))
    try:
        with pytest.raises(Exception, match=r"(?i)readonly"):
            reader(sql)
        assert reader("SELECT 1").rows == [[1]]  # the handle still answers
    finally:
        reader.close()


def test_the_engine_bounds_a_query_in_time(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store, "QUERY_SECONDS", 1)
    open_store(settings).close()
    reader = Reader(open_client(settings, read_only=True))
    try:
        with pytest.raises(Exception, match=r"TIMEOUT_EXCEEDED|Timeout exceeded"):
            reader(SLOW)
    finally:
        reader.close()


ISSUE_PROBES = [
    ("SELECT * FROM file('/etc/passwd', 'LineAsString')", "table functions"),
    ("SELECT * FROM file('/proc/self/environ', 'RawBLOB')", "table functions"),
    ("SELECT * FROM url('http://127.0.0.1:9/x', 'LineAsString')", "table functions"),
    ("SELECT * FROM s3('http://127.0.0.1:9/bucket/x', 'LineAsString')", "table functions"),
    ("SELECT * FROM remote('127.0.0.1:9', system.one)", "table functions"),
    ("SELECT file('/etc/passwd')", "function file"),
    ("SELECT 1 SETTINGS max_execution_time = 0", "SETTINGS is not allowed"),
    ("SELECT 1; SELECT 2; SELECT 3", "one statement per query"),
]


async def test_endpoint_refuses_every_probe_and_writes_nothing(
    hs: Settings, tmp_path: Path
) -> None:
    outfile = tmp_path / "written-by-a-query"
    probes = [
        *ISSUE_PROBES,
        (f"SELECT $$'$$ INTO OUTFILE '{outfile}'", "not SQL this endpoint reads"),
        (f"SELECT $$'$$; SELECT 1 INTO OUTFILE '{outfile}'; SELECT 2", "one statement|not SQL"),
    ]
    stop = asyncio.Event()
    service = asyncio.create_task(run_history(hs, stop))
    run = remote(hs)
    refusals = []
    try:
        await until(lambda: asyncio.to_thread(service_answers, hs), "the endpoint answers")
        for sql, reason in probes:
            with pytest.raises(QueryError, match=reason) as caught:
                await asyncio.to_thread(run, sql)
            refusals.append(str(caught.value))
        answer = await asyncio.to_thread(run, "SELECT count() FROM system.tables")
    finally:
        stop.set()
        await asyncio.wait_for(service, WAIT)
    assert not outfile.exists()
    assert all("root:" not in text for text in refusals)
    assert answer.rows[0][0] > 0


async def test_slow_queries_stop_neither_ingestion_nor_shutdown(hs: Settings, unique: str) -> None:
    stop = asyncio.Event()
    service = asyncio.create_task(run_history(hs, stop))
    run = remote(hs)
    outcomes: list[str] = []

    async def query() -> None:
        try:
            await asyncio.to_thread(run, SLOW)
            outcomes.append("answered")
        except QueryError as exc:
            outcomes.append(str(exc))

    try:
        await until(lambda: asyncio.to_thread(service_answers, hs), "the endpoint answers")
        queries = [asyncio.create_task(query()) for _ in range(8)]
        await until(lambda: asyncio.sleep(0, "try again" in str(outcomes)), "a busy answer")
        host = f"h-{unique}"
        batch = MetricBatch(host=host, ts=time.time(), samples=[Sample("cpu.util", 1.0)])
        await produce(hs, hs.kafka.metrics_topic, [(host.encode(), encode(batch))])
        await until(
            lambda: committed(hs, hs.history.group_id, hs.kafka.metrics_topic),
            "a batch stored while the queries run",
        )
    finally:
        stop.set()
        await asyncio.wait_for(service, WAIT)
    await asyncio.wait_for(asyncio.gather(*queries), WAIT)
    busy = [o for o in outcomes if "try again" in o]
    assert len(busy) == 3  # one runs, four wait, the others are told to come back
    assert "answered" not in outcomes
    assert any("cancelled" in o.lower() for o in outcomes), outcomes  # killed in the engine
    assert all("took longer" not in o for o in outcomes)
