"""Gamsi watches itself (issue 13 item 6): every service's /metrics and /health on the real
broker and the real chDB store. Each figure named in docs/operations.md is scraped, and the
counters are seen to move when records flow."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from gamsi.history.service import run_history
from gamsi.metrics import SelfReport
from gamsi.notifier.service import run_notifier
from gamsi.remediator.service import run_remediator
from gamsi.schemas import MetricBatch, Sample, encode
from gamsi.settings import Settings
from gamsi.web.service import run as run_web

from .kafka_io import CPU_SPIKE_POLICY, free_port, gamsi_service, produce, until

Samples = dict[str, dict[tuple[tuple[str, str], ...], float]]


async def get(url: str) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as session, session.get(url) as resp:
        body = await resp.read()
        kind = resp.headers.get("Content-Type", "")
        return resp.status, (await resp.json() if "json" in kind else body.decode())


async def scrape(port: int) -> Samples:
    """Every sample of ``/metrics`` on ``port``, by name then labels (prometheus_client's
    own parser: the text must be valid exposition format)."""
    status, text = await get(f"http://127.0.0.1:{port}/metrics")
    assert status == 200, text
    out: Samples = {}
    for family in text_string_to_metric_families(text):
        suffix = "_total" if family.type == "counter" else ""
        out.setdefault(family.name + suffix, {})  # declared, even with no sample yet
        for s in family.samples:
            out.setdefault(s.name, {})[tuple(sorted(s.labels.items()))] = s.value
    return out


def total(samples: Samples, name: str, **labels: str) -> float:
    """The sum of ``name``'s samples whose labels include ``labels``."""
    want = set(labels.items())
    return sum(v for k, v in samples.get(name, {}).items() if want <= set(k))


async def healthy(port: int) -> dict[str, Any] | None:
    try:
        status, body = await get(f"http://127.0.0.1:{port}/health")
    except aiohttp.ClientError:
        return None
    return body if status == 200 else None


async def moved(port: int, name: str, above: float, **labels: str) -> Samples | None:
    samples = await scrape(port)
    return samples if total(samples, name, **labels) > above else None


def watching(port: int, name: str, above: float = 0, **labels: str) -> Callable[[], Awaitable[Any]]:
    return lambda: moved(port, name, above, **labels)


async def test_streams_history_and_notifier_figures_move_with_the_records(
    settings: Settings, tmp_path: Path, unique: str
) -> None:
    ports = {name: free_port() for name in ("streams", "history", "notifier")}
    settings = replace(
        settings,
        streams=replace(
            settings.streams, policy_path=CPU_SPIKE_POLICY, metrics_port=ports["streams"]
        ),
        history=replace(settings.history, query_port=ports["history"], flush_interval=0.2),
        notifier=replace(settings.notifier, ack_port=ports["notifier"]),
    )
    stop = asyncio.Event()
    services = [
        asyncio.create_task(run_history(settings, stop)),
        asyncio.create_task(run_notifier(settings, stop)),
    ]
    host = f"web-{unique}"
    try:
        with gamsi_service(settings, "streams", "run", log=tmp_path / "streams.log") as worker:
            for name, port in ports.items():  # ready: Kafka answered, consumer group joined
                body = await until(lambda port=port: healthy(port), f"{name} /health 200", 90)
                assert (body["status"], body["ready"], body["service"]) == ("ok", True, name)
                assert body["checks"]["kafka"] == "ok"
            before = {name: await scrape(port) for name, port in ports.items()}
            assert total(before["streams"], "gamsi_streams_batches_total") == 0
            info = before["streams"]["gamsi_streams_policy_info"]
            assert [dict(k)["source"] for k in info] == [CPU_SPIKE_POLICY]
            t0 = time.time()
            batches = [MetricBatch(host, t0 + i, [Sample("cpu.util", 97.0)]) for i in range(2)]
            await produce(
                settings,
                settings.kafka.metrics_topic,
                [(host.encode(), encode(b)) for b in batches],
            )
            streams = await until(
                watching(ports["streams"], "gamsi_streams_batches_total", 1), "2 batches", 60
            )
            assert worker.poll() is None
        assert total(streams, "gamsi_streams_transitions_total") >= 1  # the CPU breach
        lag = streams["gamsi_consumer_lag"]
        assert {dict(k)["topic"] for k in lag} == {settings.kafka.metrics_topic}
        assert total(streams, "gamsi_kafka_up") == 1
        history = await until(
            watching(ports["history"], "gamsi_history_rows_inserted_total"), "rows stored", 60
        )
        assert total(history, "gamsi_consumer_lag", group=settings.history.group_id) >= 0
        notifier = await until(
            watching(ports["notifier"], "gamsi_notifier_deliveries_total", result="sent"),
            "the breach delivered",
            60,
        )
        assert total(notifier, "gamsi_notifier_events_total") >= 1
        assert "gamsi_notifier_pipeline_problems" in notifier
        for samples in (history, notifier):
            assert total(samples, "gamsi_dead_letters_total") >= 0
            assert "process_resident_memory_bytes" in samples
    finally:
        stop.set()
        await asyncio.gather(*services)


async def test_remediator_and_web_serve_metrics_and_health(settings: Settings) -> None:
    ports = {"remediator": free_port(), "web": free_port(), "history": free_port()}
    settings = replace(
        settings,
        remediator=replace(settings.remediator, metrics_port=ports["remediator"]),
        web=replace(settings.web, port=ports["web"]),
        history=replace(settings.history, query_port=ports["history"]),
    )
    stop = asyncio.Event()
    services = [
        asyncio.create_task(run_history(settings, stop)),
        asyncio.create_task(run_remediator(settings, stop)),
        asyncio.create_task(run_web(settings, stop)),
    ]
    try:
        body = await until(lambda: healthy(ports["remediator"]), "remediator /health 200", 90)
        assert body["checks"][f"group {settings.remediator.group_id}"] == "ok"
        remediator = await until(watching(ports["remediator"], "gamsi_kafka_up"), "Kafka up", 30)
        assert "gamsi_remediator_rows_total" in remediator
        assert "gamsi_consumer_lag" in remediator
        web = await until(watching(ports["web"], "gamsi_kafka_up"), "web's Kafka watch", 30)
        assert "process_resident_memory_bytes" in web
    finally:
        stop.set()
        await asyncio.gather(*services)


async def test_health_is_503_with_the_reason_while_kafka_does_not_answer(
    settings: Settings,
) -> None:
    away = replace(settings, kafka=replace(settings.kafka, bootstrap=f"127.0.0.1:{free_port()}"))
    reports = {"away": SelfReport(away, "streams"), "here": SelfReport(settings, "streams")}
    ports = {name: free_port() for name in reports}
    for name, report in reports.items():
        await report.start("[streams] metrics_port", ports[name])
    try:
        body = await until(lambda: healthy(ports["here"]), "Kafka answered", 30)
        assert body["checks"] == {"kafka": "ok"}
        status, body = await get(f"http://127.0.0.1:{ports['away']}/health")
        assert (status, body["status"], body["ready"]) == (503, "unavailable", False)
        bootstrap = away.kafka.bootstrap
        assert body["reason"] == f"kafka: Kafka at {bootstrap} has not answered yet"
        samples = await scrape(ports["away"])
        assert total(samples, "gamsi_kafka_up") == 0
    finally:
        for report in reports.values():
            await report.close()


async def test_a_partition_the_consumer_stopped_fetching_still_shows_its_lag(
    settings: Settings,
) -> None:
    """The lag figure of a paused partition: aiokafka keeps the end offset of its last
    fetch, so records produced after the pause used to show as no lag at all."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    from gamsi.health import aiokafka_lag
    from gamsi.kafka_auth import kafka_client_options
    from gamsi.topics import ensure_topics

    await ensure_topics(settings)
    topic = settings.kafka.events_topic
    await produce(settings, topic, [(b"k", b"before")])
    tp = TopicPartition(topic, 0)
    consumer = AIOKafkaConsumer(**kafka_client_options(settings), auto_offset_reset="earliest")
    await consumer.start()
    try:
        consumer.assign([tp])
        assert (await consumer.getone()).value == b"before"
        read, refresh = aiokafka_lag(consumer, "g")
        await refresh()
        assert read() == {("g", topic, "0"): 0}
        consumer.pause(tp)
        await produce(settings, topic, [(b"k", f"after-{i}".encode()) for i in range(3)])

        async def lag() -> float | None:
            await refresh()
            return read().get(("g", topic, "0")) or None

        assert await until(lag, "the paused partition's lag", within=30) == 3
    finally:
        await consumer.stop()
