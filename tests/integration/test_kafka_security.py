"""Kafka over TLS with SASL/SCRAM and ACLs, through kafka_client_options, on a real broker.

A broker of the project's own jars with a SASL_SSL listener, SCRAM users per role
and ACLs (tests/support/secure_broker.py). Each role's client is built from
settings exactly as a service builds it: the CA file, the user and a password
file. A collector may write the metrics topic and nothing else; a stream worker
reads it in its consumer group; a wrong password, a missing one and a
plaintext client get nowhere.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.errors import KafkaError, TopicAuthorizationFailedError

from gamsi.collector.publisher import KafkaPublisher
from gamsi.kafka_auth import kafka_client_options
from gamsi.logs import RateLimitFilter
from gamsi.notifier.service import run_notifier
from gamsi.schemas import MetricBatch, Sample
from gamsi.schemas.codec import decode_severity_event, encode
from gamsi.settings import Settings, load_settings
from gamsi.topics import ensure_topics
from tests.integration.kafka_io import CPU_SPIKE_POLICY, gamsi_service
from tests.integration.test_notifier_service import event
from tests.support.secure_broker import ADMIN, ADMIN_PASSWORD, SecureBroker, secure_broker
from tests.support.slack_standin import SlackStandIn

USERS = {
    "gamsi-collector": "collector-pw-1b2c",
    "gamsi-streams": "streams-pw-3d4e",
    "gamsi-notifier": "notifier-pw-5f6a",
}
METRICS, POLICIES, GROUP = "gamsi.metrics", "gamsi.policies", "gamsi-streams"


def role_settings(broker: SecureBroker, user: str, password: str, home: Path) -> Settings:
    """Settings of one role: TLS trusting the broker's CA, SCRAM with a password file."""
    secret = home / f"{user}.password"
    secret.write_text(password + "\n")
    base = load_settings(environ={})
    kafka = replace(
        base.kafka,
        bootstrap=broker.bootstrap,
        security_protocol="SASL_SSL",
        sasl_mechanism="SCRAM-SHA-512",
        sasl_username=user,
        sasl_password_file=str(secret),
        ssl_cafile=str(broker.ca_file),
    )
    return replace(base, kafka=kafka)


def admin_settings(broker: SecureBroker, home: Path) -> Settings:
    return role_settings(broker, ADMIN, ADMIN_PASSWORD, home)


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecureBroker]:
    home = tmp_path_factory.mktemp("secure-kafka")
    with secure_broker(home, USERS) as b:
        asyncio.run(ensure_topics(admin_settings(b, home)))  # every topic, as an admin
        b.allow("gamsi-collector", ["Write", "Describe"], topic=METRICS)
        b.allow("gamsi-streams", ["Read", "Describe"], topic=METRICS)
        b.allow("gamsi-streams", ["Read"], group=GROUP)
        # the notifier's role as docs/deploy.md grants it
        b.allow("gamsi-notifier", ["Describe"], topic="gamsi", pattern="prefixed")
        b.allow("gamsi-notifier", ["Write"], topic="gamsi.deliveries,gamsi.notifier.ledger")
        b.allow(
            "gamsi-notifier",
            ["Read"],
            topic="gamsi.events,gamsi.acks,gamsi.silences,gamsi.notifier.ledger,gamsi.remediations",
        )
        b.allow("gamsi-notifier", ["Read"], group="gamsi-notifier")
        # the stream workers' role: its own prefixed topics (ticks, Faust's changelogs)
        b.allow("gamsi-streams", ["Describe"], topic="gamsi", pattern="prefixed")
        b.allow("gamsi-streams", ["Read"], topic=POLICIES)
        b.allow("gamsi-streams", ["Write"], topic="gamsi.events,gamsi.deadletter")
        b.allow("gamsi-streams", ["All"], topic="gamsi-streams", pattern="prefixed")
        b.allow("gamsi-streams", ["All"], group="gamsi-streams", pattern="prefixed")
        yield b


@pytest.fixture
def aiokafka_errors(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """aiokafka's ERROR lines, each one (a service may have rate-limited them in-process)."""
    loggers = [logging.getLogger(n) for n in logging.root.manager.loggerDict if "aiokafka" in n]
    removed = [(lg, f) for lg in loggers for f in lg.filters if isinstance(f, RateLimitFilter)]
    for lg, f in removed:
        lg.removeFilter(f)
    caplog.set_level(logging.ERROR, logger="aiokafka")
    try:
        yield caplog
    finally:
        for lg, f in removed:
            lg.addFilter(f)


def settings_of(broker: SecureBroker, user: str, tmp_path: Path) -> Settings:
    return role_settings(broker, user, USERS[user], tmp_path)


async def test_collector_writes_metrics_and_the_worker_reads_them(
    broker: SecureBroker, tmp_path: Path
) -> None:
    collector = settings_of(broker, "gamsi-collector", tmp_path)
    producer = AIOKafkaProducer(**kafka_client_options(collector), acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(METRICS, b"sample", key=b"web-1")
    finally:
        await producer.stop()
    worker = settings_of(broker, "gamsi-streams", tmp_path)
    consumer = AIOKafkaConsumer(
        METRICS, **kafka_client_options(worker), group_id=GROUP, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        got = await asyncio.wait_for(consumer.getone(), 60)
    finally:
        await consumer.stop()
    assert (got.key, got.value) == (b"web-1", b"sample")


async def test_collector_may_not_write_policies(broker: SecureBroker, tmp_path: Path) -> None:
    collector = settings_of(broker, "gamsi-collector", tmp_path)
    producer = AIOKafkaProducer(**kafka_client_options(collector), acks="all")
    await producer.start()
    try:
        with pytest.raises(TopicAuthorizationFailedError):
            await asyncio.wait_for(producer.send_and_wait(POLICIES, b'{"policy": 1}'), 60)
    finally:
        await producer.stop()


@pytest.mark.parametrize(
    ("how", "reason"),
    [
        ("wrong password", "SaslAuthenticationFailed"),
        ("plaintext", "closed"),  # the TLS listener drops a plaintext request
        ("no CA", "CERTIFICATE_VERIFY_FAILED"),  # the broker's certificate is not trusted
    ],
)
async def test_a_client_without_the_right_credentials_gets_nowhere(
    broker: SecureBroker,
    tmp_path: Path,
    aiokafka_errors: pytest.LogCaptureFixture,
    how: str,
    reason: str,
) -> None:
    s = settings_of(broker, "gamsi-collector", tmp_path)
    if how == "wrong password":
        s = role_settings(broker, "gamsi-collector", "guess", tmp_path)
    elif how == "plaintext":
        s = replace(s, kafka=replace(s.kafka, security_protocol="PLAINTEXT"))
    else:
        s = replace(s, kafka=replace(s.kafka, ssl_cafile=""))
    producer = AIOKafkaProducer(**kafka_client_options(s), request_timeout_ms=10_000)
    with pytest.raises(KafkaError):
        await asyncio.wait_for(producer.start(), 60)
    await producer.stop()
    assert reason in aiokafka_errors.text
    # the same broker, the same moment, the right settings: in
    good = AIOKafkaProducer(
        **kafka_client_options(settings_of(broker, "gamsi-collector", tmp_path))
    )
    await asyncio.wait_for(good.start(), 60)
    await good.stop()


async def test_the_notifier_runs_with_only_its_role(broker: SecureBroker, tmp_path: Path) -> None:
    """The whole service on the secured broker: topics seen (not re-created), events read
    in its group, the ledger and deliveries written, Slack told."""
    base = settings_of(broker, "gamsi-notifier", tmp_path)
    async with SlackStandIn() as slack:
        n = replace(
            base.notifier,
            slack_token="xoxb-secure",
            slack_channel="#ops",
            slack_base_url=slack.base_url,
            storm_window=0.0,
            ack_port=0,
        )
        s = replace(base, notifier=n)
        admin = admin_settings(broker, tmp_path)
        producer = AIOKafkaProducer(**kafka_client_options(admin), acks="all")
        await producer.start()
        try:
            raised = event("secure-web-1")
            await producer.send_and_wait(s.kafka.events_topic, encode(raised), key=b"secure-web-1")
        finally:
            await producer.stop()
        stop = asyncio.Event()
        service = asyncio.create_task(run_notifier(s, stop))
        try:
            await slack.wait_for(lambda sl: len(sl.posted) == 1)
        finally:
            stop.set()
            await asyncio.wait_for(service, 60)
    assert "secure-web-1" in slack.posted[0]["text"]
    reader = AIOKafkaConsumer(
        s.notifier.delivery_topic,
        **kafka_client_options(admin),
        group_id=None,
        auto_offset_reset="earliest",
    )
    await reader.start()
    try:
        delivery = await asyncio.wait_for(reader.getone(), 60)
    finally:
        await reader.stop()
    assert b"secure-web-1" in (delivery.value or b"")


async def test_collector_to_stream_worker_on_the_secured_broker(
    broker: SecureBroker, tmp_path: Path
) -> None:
    """The collector's publisher and the Faust stream worker (its own process, settings
    from the environment) each with its role only: a breach becomes an event."""
    collector = settings_of(broker, "gamsi-collector", tmp_path)
    publisher = KafkaPublisher(collector)
    host, t0 = "secure-db-1", time.time()
    try:
        for i, cpu in enumerate((97.0, 12.0)):
            batch = MetricBatch(host, t0 + i, [Sample("cpu.util", cpu)], os="linux")
            await publisher.publish(host.encode(), encode(batch))
    finally:
        await publisher.close()
    worker = settings_of(broker, "gamsi-streams", tmp_path)
    worker = replace(
        worker,
        paths=replace(worker.paths, data_dir=str(tmp_path / "data")),
        streams=replace(worker.streams, policy_path=CPU_SPIKE_POLICY),
    )
    admin = admin_settings(broker, tmp_path)
    reader = AIOKafkaConsumer(
        admin.kafka.events_topic,
        **kafka_client_options(admin),
        group_id=None,
        auto_offset_reset="earliest",
    )
    with gamsi_service(worker, "streams", "run", log=tmp_path / "streams.log") as proc:
        await reader.start()
        try:
            got: list[bytes] = []
            deadline = time.monotonic() + 120
            while sum(host.encode() in v for v in got) < 2:  # other tests' events too
                assert proc.poll() is None, (tmp_path / "streams.log").read_text()[-3000:]
                assert time.monotonic() < deadline, (tmp_path / "streams.log").read_text()[-3000:]
                batch = await reader.getmany(timeout_ms=500)
                got += [m.value or b"" for ms in batch.values() for m in ms]
        finally:
            await reader.stop()
    events = [e for e in map(decode_severity_event, got) if e.host == host]
    assert [e.transition for e in events] == ["raise", "recover"]
