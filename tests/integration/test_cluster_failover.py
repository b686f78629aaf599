"""Past one machine (issue 16): 3 brokers, 3 stream workers, 2 notifiers, one Slack
stand-in and one webhook receiver; 200 hosts breach and recover for two minutes while
one broker, then one stream worker, then one notifier is SIGKILLed and restarted.

Afterwards the events topic holds exactly the transitions the load implies (the
worker's own engine fed the same batches, :meth:`Load.expected`), each under one event
id, none a no-data raise (every host kept reporting) — including those of batches
faust-streaming dropped at a rebalance (streams/gaps.py reads them back); every event
reached Slack in exactly one message and the webhook receiver under exactly one
Idempotency-Key (raw requests and distinct keys are printed). A record may be on the
topic twice with the same id: a worker SIGKILLed after sending an event and before its
offset was committed sends it again on replay (at least once; the notifier's ledger and
history's ReplacingMergeTree keep one per id). Those repeats are counted and printed.
The kills are paced by the load's clock; every wait is on a condition with a bound.
"""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from aiokafka.errors import KafkaError

from gamsi.kafka_cluster import LocalCluster
from gamsi.schemas.records import Severity, SeverityEvent, reading
from gamsi.settings import Settings, load_settings
from gamsi.topics import ensure_topics
from tests.integration.stream_workers import group_members, stable_split
from tests.support.fleet import (
    SLACK_TOKEN,
    WATCH,
    EventLog,
    Fleet,
    Load,
    committed_lag,
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
NODATA_AFTER = 15.0
"""The fleet policy's no-data bound (tests/support/fleet.py): once the load has ended, a
host is silent for real this long after its last batch (the load's batches are stamped
with the real time they are sent)."""
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
        for i in range(1, WORKERS + 1):  # one at a time, as docs/operations.md advises
            fleet.start("streams", f"streams-{i}")
            await fleet.until(lambda i=i: _joined(s, i), f"{i} stream worker(s) sharing", 120)
        for i in range(1, NOTIFIERS + 1):
            fleet.start("notifier", f"notifier-{i}")
        background: list[asyncio.Future[Any]] = []

        def restart_broker() -> None:  # waits for the node: off the event loop
            background.append(asyncio.ensure_future(asyncio.to_thread(restart, broker)))

        restart = kafka_cluster.start_node
        plan: list[tuple[float, str, Callable[[], None]]] = [
            (15, "SIGKILL broker", lambda: kafka_cluster.kill(broker)),
            (30, "restart broker", restart_broker),
            (45, "SIGKILL streams-2", lambda: fleet.kill("streams-2")),
            (65, "restart streams-2", lambda: fleet.restart("streams-2")),
            (75, "SIGKILL notifier-1", lambda: fleet.kill("notifier-1")),
            (95, "restart notifier-1", lambda: fleet.restart("notifier-1")),
        ]

        async def on_round(elapsed: float) -> None:
            fleet.check()
            while plan and elapsed >= plan[0][0]:
                _, what, act = plan.pop(0)
                print(f"+{elapsed:.1f} s: {what}", flush=True)
                act()

        await load.run(s, LOAD_SECONDS, on_round)
        assert not plan, "the load ended before every kill and restart was done"
        await asyncio.gather(*background)
        expected = load.expected(s)
        # every batch judged (its offset committed), then the events topic read to its end:
        # that is every event there will be, and what the notifiers must deliver
        await _drained(fleet, s, s.streams.app_id, k.metrics_topic)
        async with EventLog(s) as log:
            await fleet.until(log.at_end, "the events topic read to its end", 60)
        told = log.events
        await fleet.until(lambda: _slack_has_all(slack_standin, told), "all at Slack", 120)
        await fleet.until(lambda: _webhook_has_all(http_capture, told), "all at the webhook", 60)
        await _drained(fleet, s, s.notifier.group_id, k.events_topic)  # nothing more in flight
    requests, keys, per_event = _webhook_counts(http_capture)
    slack, strangers = _slack_counts(slack_standin, told)
    duplicates = {i: n for i, n in log.counts.items() if n != 1}
    missing = [expected[i] for i in expected.keys() - told.keys()]
    unexpected = [told[i] for i in told.keys() - expected.keys()]
    print(
        f"\n{len(expected)} transitions expected; events topic: {sum(log.counts.values())} "
        f"records, {len(duplicates)} ids more than once, {len(missing)} missing, "
        f"{len(unexpected)} unexpected; Slack: {len(slack_standin.messages)} messages, "
        f"{sum(n != 1 for n in slack.values())} events not in exactly one; "
        f"webhook: {requests} requests, {len(keys)} distinct Idempotency-Keys, "
        f"{sum(n != 1 for n in per_event.values())} events not under exactly one key"
    )
    assert len(expected) > 3 * HOSTS, f"the load implied only {len(expected)} transitions"
    if duplicates:  # the same transition, the same id: redelivered after the SIGKILL
        print(f"redelivered (same id, at least once): {_described(duplicates, log)}")
    silent = [e for e in unexpected if e.watch != WATCH]
    last = {b.host: b.ts for b in load.sent}  # each host's last batch: then it fell silent
    late = [e for e in silent if e.ts >= last[e.host] + NODATA_AFTER - 0.5]  # true no data
    unexpected = [e for e in unexpected if e not in late]
    assert [e for e in silent if e not in late] == [], "no-data raised for a live host"

    # every event on the topic reached each receiver exactly once
    assert {i: n for i, n in slack.items() if n != 1} == {}, "Slack: each event in one message"
    assert strangers == [], "Slack: messages about transitions no batch implies"
    assert {i: n for i, n in per_event.items() if n != 1} == {}, "webhook: an event under 2 keys"
    assert per_event.keys() >= told.keys()  # (and late no-data events read after told)

    # every transition the batches imply was judged, at its batch
    parts = k.partitions
    assert missing or not unexpected, f"transitions no batch implies: {unexpected[:5]}"
    assert missing == [], (
        f"never judged: {load.describe(missing, parts)}; judged at a later batch instead: "
        f"{load.describe(unexpected, parts)}"
    )
    assert told.keys() - {e.event_id for e in late} == expected.keys()


async def _joined(settings: Settings, workers: int) -> bool:
    """Do ``workers`` stream workers share every metrics partition, the group stable?"""
    try:
        group = await group_members(settings)
    except KafkaError:  # a new cluster has no group coordinator for a moment
        return False
    return stable_split(group, workers, settings.kafka.partitions)


def _described(ids: dict[str, int], log: EventLog) -> list[str]:
    """Each id with its host, transition and the partitions and times it was appended at."""
    out = []
    for event_id, n in ids.items():
        seen = [(p, round(t, 1)) for t, p, e in log.appended if e.event_id == event_id]
        e = log.events[event_id]
        out.append(f"{e.host} {e.transition} {e.ts:.1f} ×{n} at {seen}")
    return out


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
    lag.clear()
    lag.update(
        {p: end - done for p, (done, end) in (await committed_lag(settings, group, topic)).items()}
    )
    return not any(lag.values())
