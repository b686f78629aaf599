"""Exactly once across SIGKILL: the notifier runs as a subprocess and is killed mid-stream.

Slack (the stand-in) answers slowly, so kills land while requests are in flight:
the stand-in has the message, the notifier never saw the answer. After each
restart every event must have reached Slack exactly once: none lost, none twice.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path

from gamsi.schemas.codec import encode
from gamsi.schemas.records import SeverityEvent
from gamsi.settings import Settings
from tests.integration.kafka_io import gamsi_service, produce
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


async def test_sigkill_mid_stream_sends_each_event_exactly_once(
    settings: Settings,
    unique: str,
    tmp_path: Path,
    slack_standin: SlackStandIn,  # noqa: F811
) -> None:
    slack_standin.delay = 0.05
    s = replace(
        settings,
        notifier=replace(
            settings.notifier,
            slack_token="xoxb-sigkill-test-token",
            slack_channel="#ops",
            slack_base_url=slack_standin.base_url,
            delivery_topic=f"t-{unique}.deliveries",
            ledger_topic=f"t-{unique}.ledger",
            acks_topic=f"t-{unique}.acks",
            storm_window=0.0,
        ),
    )
    events = [event(f"host-{i:03d}") for i in range(EVENTS)]
    log = tmp_path / "notifier.log"
    producer = asyncio.create_task(_trickle(s, events))
    kills = 0
    try:
        for target in (8, 25):
            with gamsi_service(s, "notifier", "run", log=log) as proc:
                await slack_standin.wait_for(lambda sl, t=target: len(_hosts_posted(sl)) >= t, 60)
                proc.kill()  # SIGKILL: no flush, no commit, no goodbye
                proc.wait()
                kills += 1
        await producer
        with gamsi_service(s, "notifier", "run", log=log):
            await slack_standin.wait_for(lambda sl: len(_hosts_posted(sl)) == EVENTS, 90)
            # nothing more may arrive: wait until the notifier committed all it consumed
            await _wait_committed(s, EVENTS)
    finally:
        producer.cancel()
    counts = _hosts_posted(slack_standin)
    assert kills == 2
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
