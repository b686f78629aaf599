"""Stream worker state across a SIGKILL, and policies applied while it runs."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from gamsi.schemas import MetricBatch, Sample, Severity, encode
from gamsi.schemas.codec import decode_severity_event
from gamsi.settings import Settings
from gamsi.streams.app import STATE_TABLE
from gamsi.streams.policy.feed import apply_policy, current_policy
from gamsi.streams.state import load as load_state
from gamsi.topics import ensure_topics
from tests.integration.kafka_io import CPU_SPIKE_POLICY, gamsi_service, produce, wait_for_records

SUSTAINED = """\
version: 1
use_defaults: false
watches:
  - name: cpu-sustained
    item: cpu.util
    levels: {urgent: ">= 90"}
    duration: 30s
    hysteresis: 10
"""

LOWERED = Path(CPU_SPIKE_POLICY).read_text().replace('">= 90"', '">= 70"')


def _batches(host: str, t0: float, seconds: range, cpu: float) -> list[tuple[bytes, bytes]]:
    return [
        (
            host.encode(),
            encode(
                MetricBatch(
                    host, t0 + s, [Sample("cpu.util", cpu)], seq=s, interval=1.0, os="linux"
                )
            ),
        )
        for s in seconds
    ]


def _policy_file(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def _changelog_ts(settings: Settings, host: str) -> object:
    def decode(raw: bytes) -> tuple[str, float] | None:
        value = orjson.loads(raw) if raw else None
        return None if value is None else load_state(value["s"]).ts

    return decode


async def test_sigkill_mid_breach_keeps_the_duration_running_and_raises_once(
    settings: Settings, tmp_path: Path, unique: str
) -> None:
    policy = _policy_file(tmp_path / "sustained.yaml", SUSTAINED)
    settings = replace(settings, streams=replace(settings.streams, policy_path=str(policy)))
    host, t0 = f"db-{unique}", time.time() - 3600
    changelog = f"{settings.streams.app_id}-{STATE_TABLE}-changelog"

    await produce(settings, settings.kafka.metrics_topic, _batches(host, t0, range(0, 16), 95.0))
    with gamsi_service(settings, "streams", "run", log=tmp_path / "first.log") as worker:
        # the state after the 16th sample (t0+15) is on Kafka...
        await wait_for_records(
            settings,
            changelog,
            lambda got: t0 + 15 in got,
            _changelog_ts(settings, host),
            within=180,
            service=worker,
        )
        # ...and so is the group's offset past it: a restart resumes at the 17th batch, so
        # only the saved state can know the breach began at t0. Kill without a clean shutdown.
        await _wait_committed(settings, settings.kafka.metrics_topic, 16, worker)
        worker.send_signal(signal.SIGKILL)
        worker.wait(30)

    await produce(settings, settings.kafka.metrics_topic, _batches(host, t0, range(16, 41), 95.0))
    with gamsi_service(settings, "streams", "run", log=tmp_path / "second.log") as worker:
        # t0+40 processed: every raise that will ever come for this data has been sent
        await wait_for_records(
            settings,
            changelog,
            lambda got: t0 + 40 in got,
            _changelog_ts(settings, host),
            within=180,
            service=worker,
        )
    events = await wait_for_records(
        settings, settings.kafka.events_topic, lambda got: len(got) >= 1, decode_severity_event
    )
    # 30 s sustained from t0 ends at t0+30: counted across the kill, not restarted at t0+16
    assert [(e.transition, e.severity, e.ts - t0) for e in events] == [
        ("raise", Severity.URGENT, 30.0)
    ]
    assert events[0].since == t0
    # the restarted worker judged t0+16 on the restored run (started at t0, 17 samples long)
    # and never re-read what the first one had committed
    states = await wait_for_records(
        settings, changelog, lambda got: t0 + 40 in [s.ts for s in got], _state(host), within=60
    )
    after_kill = next(s for s in states if s.ts == t0 + 16)
    assert after_kill.series["cpu-sustained\t"].body == [t0, 17]
    assert after_kill.late == 0


def _state(host: str) -> Callable[[bytes], Any]:
    def decode(raw: bytes) -> Any:
        value = orjson.loads(raw) if raw else None
        return load_state(None if value is None else value["s"])

    return decode


async def _committed(settings: Settings, topic: str) -> int:
    """The stream workers' committed offsets on ``topic``, summed over its partitions."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka.bootstrap)
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(settings.streams.app_id)
    finally:
        await admin.close()
    return sum(max(meta.offset, 0) for tp, meta in offsets.items() if tp.topic == topic)


async def _wait_committed(
    settings: Settings, topic: str, n: int, service: subprocess.Popen[bytes], within: float = 60
) -> None:
    deadline = time.monotonic() + within
    while (got := await _committed(settings, topic)) < n:
        assert service.poll() is None, f"the worker exited with code {service.returncode}"
        assert time.monotonic() < deadline, f"{got} of {n} offsets committed within {within} s"
        await asyncio.sleep(0.2)
    assert got == n


async def test_applied_policy_reaches_a_running_worker(
    settings: Settings, tmp_path: Path, unique: str
) -> None:
    settings = replace(settings, streams=replace(settings.streams, policy_path=CPU_SPIKE_POLICY))
    host, t0 = f"app-{unique}", time.time() - 600
    lower = _policy_file(tmp_path / "lower.yaml", LOWERED)

    with gamsi_service(settings, "streams", "run", log=tmp_path / "streams.log") as worker:
        # 75 % is normal under the file's policy (>= 90)...
        await produce(settings, settings.kafka.metrics_topic, _batches(host, t0, range(0, 1), 75.0))
        sentinel = f"sentinel-{unique}"
        await produce(
            settings, settings.kafka.metrics_topic, _batches(sentinel, t0, range(0, 1), 99.0)
        )
        await wait_for_records(
            settings,
            settings.kafka.events_topic,
            lambda got: any(e.host == sentinel for e in got),
            decode_severity_event,
            within=90,
            service=worker,
        )
        # ...and urgent once a lower threshold is applied, without a restart. The worker
        # picks the policy up asynchronously: keep sending 75 % until it judges by it.
        await apply_policy(settings, lower)
        events: list = []
        for second in range(1, 30):
            await produce(
                settings,
                settings.kafka.metrics_topic,
                _batches(host, t0, range(second, second + 1), 75.0),
            )
            try:
                events = await wait_for_records(
                    settings,
                    settings.kafka.events_topic,
                    lambda got: any(e.host == host for e in got),
                    decode_severity_event,
                    within=2,
                    service=worker,
                )
                break
            except AssertionError:
                continue
    # `gamsi policy show/unregistered` judge by the policy in force, not the file
    applied = await current_policy(settings)
    assert applied is not None
    assert applied[1] == str(lower)
    assert [w.name for w in applied[0].watches] == ["cpu-spike"]
    raised = [e for e in events if e.host == host]
    assert [(e.transition, e.severity, e.threshold) for e in raised] == [
        ("raise", Severity.URGENT, 70.0)
    ]


SILENCE = """\
version: 1
use_defaults: false
watches:
  - name: agent-silent
    item: agent.heartbeat
    nodata: {after: 3s, severity: urgent}
"""


async def test_a_silent_collector_raises_on_processor_time_and_clears_when_back(
    settings: Settings, tmp_path: Path, unique: str
) -> None:
    policy = _policy_file(tmp_path / "silence.yaml", SILENCE)
    settings = replace(
        settings, streams=replace(settings.streams, policy_path=str(policy), tick_interval=0.5)
    )
    host = f"quiet-{unique}"
    with gamsi_service(settings, "streams", "run", log=tmp_path / "streams.log") as worker:
        await produce(
            settings, settings.kafka.metrics_topic, _batches(host, time.time(), range(0, 1), 5.0)
        )
        # nothing more arrives: the leader's ticks find the host silent after 3 s
        silent = await wait_for_records(
            settings,
            settings.kafka.events_topic,
            lambda got: len(got) >= 1,
            decode_severity_event,
            within=60,
            service=worker,
        )
        await produce(
            settings, settings.kafka.metrics_topic, _batches(host, time.time(), range(1, 2), 5.0)
        )
        both = await wait_for_records(
            settings,
            settings.kafka.events_topic,
            lambda got: len(got) >= 2,
            decode_severity_event,
            within=60,
            service=worker,
        )
    assert [(e.host, e.transition, e.severity) for e in silent] == [
        (host, "raise", Severity.URGENT)
    ]
    assert [(e.transition, e.severity) for e in both] == [
        ("raise", Severity.URGENT),
        ("recover", Severity.NORMAL),
    ]


async def _topic_config(settings: Settings, topic: str, **changes: str | None) -> None:
    """Set (a value) or remove (None) ``topic``'s own settings, keeping its others (the
    AlterConfigs request replaces every setting of the topic)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka.bootstrap)
    await admin.start()
    try:
        described = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)])
        entries = described[0].resources[0][4]  # (name, value, read_only, source, ...)
        own = {e[0]: e[1] for e in entries if e[3] == 1}  # DYNAMIC_TOPIC_CONFIG
        own.update({k.replace("_", "."): v for k, v in changes.items()})
        kept = {k: v for k, v in own.items() if v is not None}
        await admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, topic, kept)])
    finally:
        await admin.close()


def _carried(host: str) -> Callable[[bytes], list[str]]:
    """A changelog record → the event ids its record carries (owed to the events topic)."""

    def decode(raw: bytes) -> list[str]:
        value = orjson.loads(raw) if raw else None
        return [e["event_id"] for e in (value or {}).get("o") or ()]

    return decode


async def test_a_transition_the_broker_never_acknowledged_is_sent_by_the_next_worker(
    settings: Settings, tmp_path: Path, unique: str
) -> None:
    """The state/event race (gamsi.streams.outbox) on the real broker: the events topic
    refuses every write (its max.message.bytes below any event's size), so the worker's
    state reaches the changelog and its raise never reaches the events topic; the worker
    is SIGKILLed there. The next worker restores the state, takes the
    replayed batch as a repeat, and must still send the raise: once, with its id."""
    settings = replace(settings, streams=replace(settings.streams, policy_path=CPU_SPIKE_POLICY))
    host, t0 = f"web-{unique}", time.time() - 60
    changelog = f"{settings.streams.app_id}-{STATE_TABLE}-changelog"
    events_topic = settings.kafka.events_topic
    await ensure_topics(settings)
    await _topic_config(settings, events_topic, max_message_bytes="64")  # MESSAGE_TOO_LARGE

    await produce(settings, settings.kafka.metrics_topic, _batches(host, t0, range(0, 1), 99.0))
    with gamsi_service(settings, "streams", "run", log=tmp_path / "first.log") as worker:
        carried = await wait_for_records(
            settings, changelog, lambda got: any(got), _carried(host), within=180, service=worker
        )
        worker.send_signal(signal.SIGKILL)
        worker.wait(30)
    owed = next(ids for ids in carried if ids)
    assert len(owed) == 1  # the raise, carried by the state record that counts it

    await _topic_config(settings, events_topic, max_message_bytes=None)
    with gamsi_service(settings, "streams", "run", log=tmp_path / "second.log") as worker:
        events = await wait_for_records(
            settings, events_topic, lambda got: len(got) >= 1, decode_severity_event,
            within=180, service=worker,
        )  # fmt: skip
        # the replayed batch and a tick have both been judged: nothing more comes
        await produce(settings, settings.kafka.metrics_topic, _batches(host, t0, range(1, 2), 99.0))
        await wait_for_records(
            settings, changelog, lambda got: t0 + 1 in got, _changelog_ts(settings, host),
            within=60, service=worker,
        )  # fmt: skip
    on_topic = await _records_on(settings, events_topic)
    events = await wait_for_records(
        settings, events_topic, lambda got: len(got) >= on_topic, decode_severity_event
    )
    assert [(e.event_id, e.host, e.transition) for e in events] == [(owed[0], host, "raise")]


async def _records_on(settings: Settings, topic: str) -> int:
    """How many records ``topic`` holds (its partitions' end offsets: nothing is deleted)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka.bootstrap)
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in range(settings.kafka.partitions)]
        return sum((await consumer.end_offsets(partitions)).values())
    finally:
        await consumer.stop()
