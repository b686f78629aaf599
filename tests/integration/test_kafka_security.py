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
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAuthorizationFailedError

from gamsi.kafka_auth import kafka_client_options
from gamsi.logs import RateLimitFilter
from gamsi.settings import Settings, load_settings
from tests.support.secure_broker import ADMIN, ADMIN_PASSWORD, SecureBroker, secure_broker

USERS = {"gamsi-collector": "collector-pw-1b2c", "gamsi-streams": "streams-pw-3d4e"}
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


async def _create_topics(settings: Settings) -> None:
    admin = AIOKafkaAdminClient(**kafka_client_options(settings))
    await admin.start()
    try:
        await admin.create_topics([NewTopic(t, 1, 1) for t in (METRICS, POLICIES)])
    finally:
        await admin.close()


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecureBroker]:
    home = tmp_path_factory.mktemp("secure-kafka")
    with secure_broker(home, USERS) as b:
        asyncio.run(_create_topics(role_settings(b, ADMIN, ADMIN_PASSWORD, home)))
        b.allow("gamsi-collector", ["Write", "Describe"], topic=METRICS)
        b.allow("gamsi-streams", ["Read", "Describe"], topic=METRICS)
        b.allow("gamsi-streams", ["Read"], group=GROUP)
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
