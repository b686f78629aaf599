"""The /health contract (gamsi.health): 200 ready, 503 with the reason, Kafka's bound."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest

from gamsi.config_fields import ConfigError
from gamsi.health import AWAY_AFTER, Health, KafkaWatch
from gamsi.settings import load_settings


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def watch(clock: Clock) -> KafkaWatch:
    base = load_settings(environ={})
    settings = replace(base, kafka=replace(base.kafka, bootstrap="127.0.0.1:1"))
    return KafkaWatch(settings, clock=clock)


def test_not_ready_until_kafka_answers_then_ok_then_503_past_the_bound() -> None:
    clock = Clock()
    kafka = watch(clock)
    health = Health("history", kafka)
    status, body = health.report()
    assert (status, body["ready"], body["status"]) == (503, False, "unavailable")
    assert body["reason"] == "kafka: Kafka at 127.0.0.1:1 has not answered yet"
    kafka.note(True)
    assert health.report() == (
        200,
        {"status": "ok", "ready": True, "service": "history", "checks": {"kafka": "ok"}},
    )
    kafka.note(False, "KafkaConnectionError: refused")
    clock.now += AWAY_AFTER  # a broker restart within the bound is not a failure
    assert health.report()[0] == 200
    clock.now += 11
    status, body = health.report()
    assert status == 503
    assert body["checks"]["kafka"] == "Kafka at 127.0.0.1:1 not answering for 41 s"
    kafka.note(True)
    assert health.report()[0] == 200
    assert kafka.away_for() == 0.0


def test_a_failing_or_broken_check_makes_it_503_naming_the_check() -> None:
    health = Health("notifier")
    joined = {"now": False}
    health.require("group g", lambda: None if joined["now"] else "not joined yet")
    status, body = health.report()
    assert (status, body["reason"]) == (503, "group g: not joined yet")
    joined["now"] = True
    assert health.report()[0] == 200

    def broken() -> str | None:
        raise RuntimeError("boom")

    health.require("store", broken)
    status, body = health.report()
    assert (status, body["checks"]["store"]) == (503, "check failed: RuntimeError")
    assert body["checks"]["group g"] == "ok"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"GAMSI_NOTIFIER_SELFWATCH_INTERVAL": "-1"}, "[notifier] selfwatch_interval: expected 0"),
        ({"GAMSI_NOTIFIER_SELFWATCH_KAFKA_AFTER": "0"}, "[notifier] selfwatch_kafka_after"),
        ({"GAMSI_STREAMS_METRICS_PORT": "70000"}, "[streams] metrics_port: expected 1..65535"),
        ({"GAMSI_REMEDIATOR_METRICS_PORT": "-2"}, "[remediator] metrics_port: expected"),
    ],
)
def test_self_watching_settings_are_checked_at_load(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_settings(environ=env)
