"""Past one machine (issue 16): 3 brokers, 3 stream workers, 2 notifiers, one Slack
stand-in and one webhook receiver; 200 hosts breach and recover for two minutes while
one broker, then one stream worker, then one notifier is SIGKILLed and restarted.

Afterwards every transition the load implies (the worker's own engine fed the same
batches, :meth:`Load.expected`) is in the events topic exactly once by event id, no
other is (a no-data raise while a partition moved would be one), every one reached
Slack in exactly one message, and the webhook receiver, deduplicating by
Idempotency-Key, holds every one exactly once. The kills are paced by the load's
clock; every wait is on a condition with a bound.
"""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from gamsi.kafka_cluster import LocalCluster
from gamsi.schemas.records import Severity, SeverityEvent, reading
from gamsi.settings import Settings, load_settings
from gamsi.topics import ensure_topics
from tests.support.fleet import (
    SLACK_TOKEN,
    EventLog,
    Fleet,
    Load,
    fleet_settings,
    routing_file,
)
from tests.support.http_capture import HttpCapture, http_capture  # noqa: F401
from tests.support.slack_standin import SlackStandIn, slack_standin  # noqa: F401

HOSTS = 200
LOAD_SECONDS = 120.0
WORKERS, NOTIFIERS = 3, 2
EVENT_LINE = re.compile(r"\S+ cpu\.util = \S+ \(threshold \S+\) (?:recovered|[A-Z]+)")
"""An event as a message lists it (gamsi.notifier.message.event_line), up to the part
that depends on when it was sent."""
OMITTED = re.compile(r"^… and \d+ more$", re.MULTILINE)


async def test_a_broker_a_worker_and_a_notifier_killed_lose_nothing_and_send_nothing_twice(
    kafka_cluster: LocalCluster,
    tmp_path: Path,
    unique: str,
    slack_standin: SlackStandIn,  # noqa: F811
    http_capture: HttpCapture,  # noqa: F811
) -> None:
    s = fleet_settings(load_settings(environ={}), kafka_cluster.bootstrap, tmp_path, f"t-{unique}")
    routing = routing_file(tmp_path, f"{http_capture.url}/hook", slack_standin.base_url)
    s = replace(s, notifier=replace(s.notifier, routing_file=str(routing)))
    await ensure_topics(s)
    k = s.kafka
    load = Load(HOSTS)
    broker = kafka_cluster.nodes  # the last node: not the first address clients try
    with Fleet(s, tmp_path, env={"FLEET_SLACK_TOKEN": SLACK_TOKEN}) as fleet:
        for i in range(1, WORKERS + 1):
            fleet.start("streams", f"streams-{i}")
        for i in range(1, NOTIFIERS + 1):
            fleet.start("notifier", f"notifier-{i}")
        background: list[asyncio.Future[Any]] = []
        plan = [
            (15, lambda: kafka_cluster.kill(broker)),
            (
                30,
                lambda: background.append(
                    asyncio.ensure_future(asyncio.to_thread(kafka_cluster.start_node, broker))
                ),
            ),
            (45, lambda: fleet.kill("streams-2")),
            (65, lambda: fleet.restart("streams-2")),
            (75, lambda: fleet.kill("notifier-1")),
            (95, lambda: fleet.restart("notifier-1")),
        ]

        async def on_round(elapsed: float) -> None:
            fleet.check()
            while plan and elapsed >= plan[0][0]:
                plan.pop(0)[1]()

        await load.run(s, LOAD_SECONDS, on_round)
        assert not plan, "the load ended before every kill and restart was done"
        await asyncio.gather(*background)
        expected = load.expected(s)
        async with EventLog(s) as log:
            await fleet.until(
                lambda: _polled(log, expected), "every expected event on the events topic", 120
            )
            await fleet.until(
                lambda: _slack_has_all(slack_standin, expected), "every event at Slack", 120
            )
            await fleet.until(
                lambda: _webhook_has_all(http_capture, expected), "every event at the webhook", 60
            )
            # nothing more in flight: the workers judged all, the notifiers handled all
            await _drained(fleet, s, s.streams.app_id, k.metrics_topic)
            await _drained(fleet, s, s.notifier.group_id, k.events_topic)
            await log.poll()
    requests, keys, per_event = _webhook_counts(http_capture)
    slack, strangers = _slack_counts(slack_standin, expected)
    duplicates = {i: n for i, n in log.counts.items() if n != 1}
    unexpected = [log.events[i] for i in log.counts.keys() - expected.keys()]
    print(
        f"\n{len(expected)} transitions expected; events topic: {sum(log.counts.values())} "
        f"records, {len(duplicates)} ids more than once, {len(unexpected)} unexpected; "
        f"Slack: {len(slack_standin.messages)} messages, "
        f"{sum(n != 1 for n in slack.values())} events not in exactly one; "
        f"webhook: {requests} requests, {len(keys)} distinct Idempotency-Keys, "
        f"{sum(n != 1 for n in per_event.values())} events not under exactly one key"
    )
    assert len(expected) > 3 * HOSTS, f"the load implied only {len(expected)} transitions"
    assert duplicates == {}, f"events twice on the topic: {_described(duplicates, log)}"
    assert unexpected == [], f"events no batch implies: {unexpected[:5]}"
    assert log.counts.keys() == expected.keys()

    assert {i: n for i, n in slack.items() if n != 1} == {}, "Slack: each event in one message"
    assert strangers == [], "Slack: messages about transitions no batch implies"

    assert {i: n for i, n in per_event.items() if n != 1} == {}, "webhook: an event under 2 keys"
    assert per_event.keys() == expected.keys()


def _described(ids: dict[str, int], log: EventLog) -> list[str]:
    """Each id with its host, transition and the partitions and times it was appended at."""
    out = []
    for event_id, n in ids.items():
        seen = [(p, round(t, 1)) for t, p, e in log.appended if e.event_id == event_id]
        e = log.events[event_id]
        out.append(f"{e.host} {e.transition} {e.ts:.1f} ×{n} at {seen}")
    return out


def _polled(log: EventLog, expected: dict[str, SeverityEvent]) -> Any:
    async def check() -> bool:
        await log.poll()
        return expected.keys() <= log.counts.keys()

    return check()


def _line(e: SeverityEvent) -> str:
    """How a message lists this event (:data:`EVENT_LINE`); unique per transition, as the
    load gives every phase of a host its own value."""
    head = f"{e.host} {e.item} = {reading(e.value)} (threshold {reading(e.threshold)})"
    return head + (" recovered" if e.transition == "recover" else f" {Severity(e.severity).name}")


def _slack_counts(
    standin: SlackStandIn, expected: dict[str, SeverityEvent]
) -> tuple[Counter[str], list[str]]:
    """Per expected event id, how many Slack messages list it; and the listed events no
    expected one matches."""
    lines = {_line(e): i for i, e in expected.items()}
    counts: Counter[str] = Counter({i: 0 for i in expected})
    strangers = []
    for message in standin.messages:
        assert not OMITTED.search(message["text"]), f"a message omitted events: {message}"
        for line in EVENT_LINE.findall(message["text"]):
            if line in lines:
                counts[lines[line]] += 1
            else:
                strangers.append(line)
    return counts, strangers


def _slack_has_all(standin: SlackStandIn, expected: dict[str, SeverityEvent]) -> bool:
    return 0 not in _slack_counts(standin, expected)[0].values()


def _webhook_counts(capture: HttpCapture) -> tuple[int, dict[str, list[str]], Counter[str]]:
    """(raw requests, event ids per distinct Idempotency-Key, how many keys hold each
    event). A repeated key must carry the same events: a receiver keeps the first."""
    keys: dict[str, list[str]] = {}
    for request in capture.requests:
        key = request.headers["Idempotency-Key"]
        ids = sorted(e["event_id"] for e in request.json()["events"])
        assert keys.setdefault(key, ids) == ids, f"key {key} came back with other events"
    per_event = Counter(i for ids in keys.values() for i in ids)
    return len(capture.requests), keys, per_event


def _webhook_has_all(capture: HttpCapture, expected: dict[str, SeverityEvent]) -> bool:
    return expected.keys() <= _webhook_counts(capture)[2].keys()


async def _drained(fleet: Fleet, settings: Settings, group: str, topic: str) -> None:
    """Wait until ``group`` has committed the end of every partition of ``topic``."""
    lag: dict[int, int] = {}
    await fleet.until(
        lambda: _caught_up(settings, group, topic, lag),
        lambda: f"{group} committed all of {topic} (left per partition: {lag})",
        60,
    )


async def _caught_up(settings: Settings, group: str, topic: str, lag: dict[int, int]) -> bool:
    """Has ``group`` committed the end of every partition of ``topic``? (``lag`` gets
    what is left per partition.)"""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka.bootstrap)
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka.bootstrap)
    await admin.start()
    await consumer.start()
    try:
        parts = [TopicPartition(topic, p) for p in range(settings.kafka.partitions)]
        committed = await admin.list_consumer_group_offsets(group, partitions=parts)
        ends = await consumer.end_offsets(parts)
        lag.clear()
        lag.update({tp.partition: ends[tp] - committed[tp].offset for tp in parts})
        return not any(lag.values())
    finally:
        await consumer.stop()
        await admin.close()
