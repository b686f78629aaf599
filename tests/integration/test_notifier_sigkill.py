"""Exactly once across SIGKILL: the notifier runs as a subprocess and is killed mid-send.

The first test makes each kill land where the guarantee is tested, deterministically:
the Slack stand-in holds its answer, the test waits until Slack has the message and
the ledger says ``pending`` without ``sent``, and kills the notifier there — once
during a raise, once during a recovery posted in a thread. The restarted notifier
must ask Slack (``conversations.history`` / ``replies``), find the message and not
post it again. The second test kills it twice in a stream of 60 events: every
event reaches Slack exactly once, none lost, none twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import subprocess
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import orjson
from aiohttp import web

from gamsi.notifier.ledger import read_map
from gamsi.schemas.codec import encode
from gamsi.schemas.records import SeverityEvent
from gamsi.settings import Settings
from gamsi.testing.http import serve
from tests.integration.kafka_io import gamsi_service, produce, wait_for_records
from tests.integration.test_notifier_service import event
from tests.support.slack_standin import SlackStandIn, slack_standin  # noqa: F401

EVENTS = 60


def _hosts_posted(standin: SlackStandIn) -> Counter[str]:
    """How many Slack messages each host appears in (messages the stand-in stored)."""
    seen: Counter[str] = Counter()
    for message in standin.messages:
        for host in set(re.findall(r"host-\d{3}", message["text"])):
            seen[host] += 1
    return seen


async def _trickle(settings: Settings, events: list[SeverityEvent]) -> None:
    for e in events:
        await produce(settings, settings.kafka.events_topic, [(e.host.encode(), encode(e))])
        await asyncio.sleep(0.1)


def _settings(settings: Settings, unique: str, standin: SlackStandIn) -> Settings:
    return replace(
        settings,
        notifier=replace(
            settings.notifier,
            slack_token="xoxb-sigkill-test-token",
            slack_channel="#ops",
            slack_base_url=standin.base_url,
            delivery_topic=f"t-{unique}.deliveries",
            ledger_topic=f"t-{unique}.ledger",
            acks_topic=f"t-{unique}.acks",
            storm_window=0.0,
            ack_port=0,
        ),
    )


def _stored(standin: SlackStandIn, host: str, word: str) -> list[dict]:
    """Messages Slack stored about ``host`` whose text has ``word`` (URGENT, RECOVERED)."""
    return [m for m in standin.messages if host in m["text"] and word in m["text"]]


async def _kill_in_flight(
    settings: Settings,
    standin: SlackStandIn,
    proc: subprocess.Popen[bytes],
    arrived: Callable[[SlackStandIn], bool],
    then: SeverityEvent,
) -> str:
    """Produce ``then`` while Slack holds its answers; kill the notifier once Slack has the
    message and the ledger has its ``pending`` marker but no ``sent``. Returns the key."""
    standin.delay = 20  # Slack stores the message and keeps the notifier waiting
    await produce(settings, settings.kafka.events_topic, [(then.host.encode(), encode(then))])
    await standin.wait_for(arrived, 60)
    ledger = await _ledger(settings)
    in_flight = [k.removeprefix("pending:") for k in ledger if k.startswith("pending:")]
    assert len(in_flight) == 1, sorted(ledger)
    assert then.event_id in in_flight[0]
    assert f"sent:{in_flight[0]}" not in ledger
    proc.kill()  # SIGKILL between the pending and the sent marker
    proc.wait()
    standin.delay = 0
    return in_flight[0]


async def _ledger(settings: Settings) -> dict[str, dict]:
    data: dict[str, dict] = {}
    await read_map(settings, settings.notifier.ledger_topic, data)
    return data


async def test_a_kill_between_pending_and_sent_is_settled_by_asking_slack(
    settings: Settings,
    unique: str,
    tmp_path: Path,
    slack_standin: SlackStandIn,  # noqa: F811
) -> None:
    s = _settings(settings, unique, slack_standin)
    log = tmp_path / "notifier.log"
    first, second = event("host-000"), event("host-001")
    with gamsi_service(s, "notifier", "run", log=log) as proc:
        await produce(s, s.kafka.events_topic, [(b"host-000", encode(first))])
        await slack_standin.wait_for(lambda sl: len(_stored(sl, "host-000", "URGENT")) == 1, 60)
        raise_key = await _kill_in_flight(
            s, slack_standin, proc, lambda sl: bool(_stored(sl, "host-001", "URGENT")), second
        )
    asked = len(slack_standin.requests)
    recovered = event("host-000", "recover")
    with gamsi_service(s, "notifier", "run", log=log) as proc:
        await _wait_delivery(s, raise_key, proc)  # settled at Slack, not posted again
        recover_key = await _kill_in_flight(
            s, slack_standin, proc, lambda sl: bool(_stored(sl, "host-000", "RECOVERED")), recovered
        )
    with gamsi_service(s, "notifier", "run", log=log) as proc:
        await _wait_delivery(s, recover_key, proc)
        await _wait_committed(s, 3)
    methods = [r.method for r in slack_standin.requests[asked:]]
    assert "conversations.history" in methods  # the raise: a top-level message
    assert "conversations.replies" in methods  # the recovery: a reply in the thread
    assert len(_stored(slack_standin, "host-001", "URGENT")) == 1
    (recovery,) = _stored(slack_standin, "host-000", "RECOVERED")
    assert recovery["thread_ts"] == _stored(slack_standin, "host-000", "URGENT")[0]["ts"]


async def _wait_delivery(settings: Settings, key: str, proc: subprocess.Popen[bytes]) -> None:
    """Until the delivery log says the in-flight ``key`` was found at Slack (deduplicated)."""
    event_id = key.split(":")[0]

    def found(records: list[dict]) -> bool:
        return any(
            r["event_id"] == event_id and r["result"] == "deduplicated"
            and r["error"] == "found at the channel"
            for r in records
        )  # fmt: skip

    await wait_for_records(
        settings, settings.notifier.delivery_topic, found, orjson.loads, service=proc
    )


async def test_sigkill_mid_stream_sends_each_event_exactly_once(
    settings: Settings,
    unique: str,
    tmp_path: Path,
    slack_standin: SlackStandIn,  # noqa: F811
) -> None:
    slack_standin.delay = 0.05
    s = _settings(settings, unique, slack_standin)
    events = [event(f"host-{i:03d}") for i in range(EVENTS)]
    log = tmp_path / "notifier.log"
    producer = asyncio.create_task(_trickle(s, events))
    try:
        for target in (8, 25):
            with gamsi_service(s, "notifier", "run", log=log) as proc:
                await slack_standin.wait_for(lambda sl, t=target: len(_hosts_posted(sl)) >= t, 60)
                proc.kill()  # SIGKILL: no flush, no commit, no goodbye
                proc.wait()
        await producer
        with gamsi_service(s, "notifier", "run", log=log):
            await slack_standin.wait_for(lambda sl: len(_hosts_posted(sl)) == EVENTS, 90)
            # nothing more may arrive: wait until the notifier committed all it consumed
            await _wait_committed(s, EVENTS)
    finally:
        producer.cancel()
    counts = _hosts_posted(slack_standin)
    assert sorted(counts) == sorted(e.host for e in events)
    summary = [
        (m["ts"], sorted(set(re.findall(r"host-\d{3}", m["text"])))) for m in slack_standin.messages
    ]
    assert {h: c for h, c in counts.items() if c != 1} == {}, summary


async def _wait_committed(settings: Settings, total: int) -> None:
    """Until the notifier's group has committed every event (bounded)."""
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka.bootstrap)
    await admin.start()
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            offsets = await admin.list_consumer_group_offsets(settings.notifier.group_id)
            if sum(o.offset for o in offsets.values() if o.offset > 0) >= total:
                return
            await asyncio.sleep(0.2)
        raise AssertionError("the notifier did not commit every event within 60 s")
    finally:
        await admin.close()


class DedupReceiver:
    """A webhook receiver that drops repeats by Idempotency-Key, as docs/notifications.md
    advises, and can hold its answers (``release`` cleared) so a kill lands mid-send."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.release.set()
        self.arrived = asyncio.Event()
        self.keys: list[str] = []
        self.accepted: dict[str, list[str]] = {}

    async def handle(self, request: web.Request) -> web.Response:
        key = request.headers.get("Idempotency-Key", "")
        hosts = [e["host"] for e in orjson.loads(await request.read())["events"]]
        self.keys.append(key)
        self.accepted.setdefault(key, hosts)  # a repeat of a key is dropped
        self.arrived.set()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.release.wait(), 20)
        return web.json_response({})

    def hosts(self) -> Counter[str]:
        return Counter(h for hosts in self.accepted.values() for h in hosts)


async def test_a_regrouped_message_after_a_kill_loses_nothing_at_a_receiver_that_dedups(
    settings: Settings, unique: str, tmp_path: Path
) -> None:
    receiver = DedupReceiver()
    runner, port = await serve("/{tail:.*}", receiver.handle)
    try:
        routing = tmp_path / "routing.yaml"
        routing.write_text(
            f'channels: {{hook: {{type: webhook, url: "http://127.0.0.1:{port}/hook"}}}}\n'
            "recipients: {ops: {contacts: [{channel: hook, to: ops}]}}\n"
            "routes: [{name: all, recipients: [ops]}]\n"
        )
        s = replace(settings, notifier=replace(
            settings.notifier, routing_file=str(routing), storm_window=2.0, ack_port=0,
            delivery_topic=f"t-{unique}.deliveries", ledger_topic=f"t-{unique}.ledger",
            acks_topic=f"t-{unique}.acks",
        ))  # fmt: skip
        first = [event(f"web-{i}") for i in range(5)]
        later = [event(f"db-{i}") for i in range(3)]
        log = tmp_path / "notifier.log"
        with gamsi_service(s, "notifier", "run", log=log) as proc:
            receiver.release.clear()  # the receiver takes the message and never answers
            await produce(s, s.kafka.events_topic, [(e.host.encode(), encode(e)) for e in first])
            await asyncio.wait_for(receiver.arrived.wait(), 60)
            ledger = await _ledger(s)
            assert sum(k.startswith("pending:") for k in ledger) == 5
            assert not any(k.startswith("sent:") for k in ledger)
            proc.kill()  # SIGKILL while the grouped message is in flight
            proc.wait()
        receiver.release.set()
        await produce(s, s.kafka.events_topic, [(e.host.encode(), encode(e)) for e in later])
        with gamsi_service(s, "notifier", "run", log=log):
            await _wait_committed(s, 8)
        assert receiver.hosts() == Counter(e.host for e in first + later)
        assert receiver.keys.count(receiver.keys[0]) == 2  # the in-flight part, repeated as is
    finally:
        await runner.cleanup()
