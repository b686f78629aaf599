"""The notifier service against the real broker and the Slack stand-in (walking skeleton)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import replace

import orjson

from gamsi.notifier.ack import acknowledge
from gamsi.notifier.ledger import read_map
from gamsi.notifier.service import run_notifier
from gamsi.schemas.codec import encode
from gamsi.schemas.records import SeverityEvent
from gamsi.settings import Settings
from tests.integration.kafka_io import gamsi_cli, produce, wait_for_records
from tests.support.slack_standin import SlackStandIn, slack_standin  # noqa: F401

TOKEN = "xoxb-standin-token-0123456789"


def event(host: str, transition: str = "raise", severity: int = 4, n: int = 0) -> SeverityEvent:
    return SeverityEvent(
        event_id=f"{host}-cpu-{transition}-{n}",
        host=host,
        item="cpu.util",
        instance="",
        watch="cpu-high",
        severity=0 if transition == "recover" else severity,
        previous=severity if transition == "recover" else 0,
        transition=transition,
        value=97.5 if transition != "recover" else 42.0,
        threshold=90.0 if transition != "recover" else 80.0,
        ts=time.time(),
        since=time.time() - 30,
        tags=["web"],
    )


def notifier_settings(settings: Settings, base_url: str, unique: str, **extra: object) -> Settings:
    n = replace(
        settings.notifier,
        slack_token=TOKEN,
        slack_channel="#ops",
        slack_base_url=base_url,
        delivery_topic=f"t-{unique}.deliveries",
        ledger_topic=f"t-{unique}.ledger",
        acks_topic=f"t-{unique}.acks",
        storm_window=0.0,
        **extra,
    )
    return replace(settings, notifier=n)


async def produce_events(settings: Settings, *events: SeverityEvent | bytes) -> None:
    messages = [
        (e.host.encode(), encode(e)) if isinstance(e, SeverityEvent) else (b"x", e) for e in events
    ]
    await produce(settings, settings.kafka.events_topic, messages)


async def read_topic(settings: Settings, topic: str, count: int) -> list[dict]:
    return await wait_for_records(settings, topic, lambda r: len(r) >= count, orjson.loads)


@contextlib.asynccontextmanager
async def running(settings: Settings) -> AsyncIterator[asyncio.Task[None]]:
    stop = asyncio.Event()
    task = asyncio.create_task(run_notifier(settings, stop))
    try:
        yield task
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)


async def test_event_and_recovery_reach_slack_in_one_thread(
    settings: Settings,
    unique: str,
    slack_standin: SlackStandIn,  # noqa: F811
) -> None:
    slack_standin.token = TOKEN
    s = notifier_settings(settings, slack_standin.base_url, unique)
    raised, recovered = event("web-01"), event("web-01", "recover")
    async with running(s):
        await produce_events(s, raised)
        await slack_standin.wait_for(lambda sl: len(sl.posted) == 1)
        await produce_events(s, recovered)
        await slack_standin.wait_for(lambda sl: len(sl.posted) == 2)
    first, second = slack_standin.posted
    assert first["channel"] == "#ops"
    for word in ("web-01", "cpu.util", "URGENT"):
        assert word in first["text"]
    assert first["attachments"][0]["color"] == "#e01e5a"
    assert second["thread_ts"] == slack_standin.messages[0]["ts"]
    assert "recovered" in second["text"].lower()
    assert "web-01" in second["text"]
    deliveries = await read_topic(s, s.notifier.delivery_topic, 2)
    assert [d["result"] for d in deliveries] == ["sent", "sent"]
    assert set(deliveries[0]) == {
        "v", "kind", "ts", "event_id", "route", "channel", "recipient", "host", "item",
        "instance", "severity", "transition", "result", "attempts", "error",
    }  # fmt: skip
    assert {d["event_id"] for d in deliveries} == {raised.event_id, recovered.event_id}
    assert {d["kind"] for d in deliveries} == {"delivery"}


async def test_malformed_event_goes_to_dead_letter_and_the_next_one_is_sent(
    settings: Settings,
    unique: str,
    slack_standin: SlackStandIn,  # noqa: F811
) -> None:
    s = notifier_settings(settings, slack_standin.base_url, unique)
    async with running(s):
        await produce_events(s, b"{not json", event("db-02"))
        await slack_standin.wait_for(lambda sl: len(sl.posted) == 1)
    letters = await read_topic(s, s.kafka.deadletter_topic, 1)
    assert letters[0]["kind"] == "dead_letter"
    assert "not JSON" in letters[0]["reason"]
    assert "db-02" in slack_standin.posted[0]["text"]


async def test_slack_429_is_retried_after_retry_after(
    settings: Settings,
    unique: str,
    slack_standin: SlackStandIn,  # noqa: F811
) -> None:
    s = notifier_settings(settings, slack_standin.base_url, unique, retry_delay=0.05)
    slack_standin.rate_limit(2, retry_after=1)
    async with running(s):
        await produce_events(s, event("web-03"))
        await slack_standin.wait_for(lambda sl: len(sl.posted) == 1)
    statuses = [r.status for r in slack_standin.requests if r.method == "chat.postMessage"]
    assert statuses == [429, 429, 200]
    # How long it waits (Retry-After over the backoff, for the whole channel) is pinned with
    # an injected clock in tests/unit/notifier/test_retry.py; no test here asserts on time.
    deliveries = await read_topic(s, s.notifier.delivery_topic, 1)
    assert deliveries[0]["attempts"] == 3


async def ledger_problems(settings: Settings) -> dict[str, dict]:
    """The open problems in the notifier's ledger topic, by key."""
    data: dict[str, dict] = {}
    await read_map(settings, settings.notifier.ledger_topic, data)
    return {k.removeprefix("problem:"): v for k, v in data.items() if k.startswith("problem:")}


async def wait_for_ledger(settings: Settings, done: Callable[[dict[str, dict]], bool]) -> None:
    """Until the ledger's open problems satisfy ``done`` (bounded: 30 s)."""
    deadline = time.monotonic() + 30
    while not done(await ledger_problems(settings)):
        assert time.monotonic() < deadline, await ledger_problems(settings)
        await asyncio.sleep(0.2)


async def test_ack_is_shown_in_the_recovery(
    settings: Settings,
    unique: str,
    slack_standin: SlackStandIn,  # noqa: F811
) -> None:
    s = notifier_settings(settings, slack_standin.base_url, unique)
    raised = event("web-04")
    async with running(s):
        await produce_events(s, raised)
        await slack_standin.wait_for(lambda sl: len(sl.posted) == 1)
        await wait_for_ledger(s, lambda p: len(p) == 1)
        await acknowledge(s, raised.event_id, by="alice")
        # the notifier applied it: the ledger's problem says who acknowledged
        await wait_for_ledger(s, lambda p: [v["acked_by"] for v in p.values()] == ["alice"])
        await produce_events(s, event("web-04", "recover"))
        await slack_standin.wait_for(lambda sl: len(sl.posted) == 2)
    assert "Acknowledged by alice" in slack_standin.posted[1]["text"]


async def test_gamsi_ack_refuses_unknown_ids_lists_and_undoes(
    settings: Settings,
    unique: str,
    slack_standin: SlackStandIn,  # noqa: F811
) -> None:
    s = notifier_settings(settings, slack_standin.base_url, unique)
    raised = event("web-05")
    async with running(s):
        refused = await asyncio.to_thread(gamsi_cli, s, "ack", "doesnotexist")
        assert refused.returncode != 0
        lines = refused.stderr.strip().splitlines()
        assert len(lines) == 1
        assert "doesnotexist" in lines[0]
        assert "no open problem" in lines[0]
        await produce_events(s, raised)
        await wait_for_ledger(s, lambda p: len(p) == 1)
        done = await asyncio.to_thread(gamsi_cli, s, "ack", raised.event_id, "--by", "kim")
        assert done.returncode == 0, done.stderr
        listed = await asyncio.to_thread(gamsi_cli, s, "ack", "--list")
        assert raised.event_id in listed.stdout
        assert "by kim" in listed.stdout
        undone = await asyncio.to_thread(gamsi_cli, s, "ack", "--undo", raised.event_id)
        assert undone.returncode == 0, undone.stderr
        await wait_for_ledger(s, lambda p: [v["acked_by"] for v in p.values()] == [""])
        again = await asyncio.to_thread(gamsi_cli, s, "ack", "--undo", raised.event_id)
        assert again.returncode != 0
        assert "not acknowledged" in again.stderr
        listed = await asyncio.to_thread(gamsi_cli, s, "ack", "--list")
        assert raised.event_id not in listed.stdout
        await produce_events(s, event("web-05", "recover"))
        await wait_for_ledger(s, lambda p: p == {})
        closed = await asyncio.to_thread(gamsi_cli, s, "ack", raised.event_id)
        assert closed.returncode != 0  # the problem is over: nothing to acknowledge


async def test_a_storm_is_one_message_in_the_real_service(
    settings: Settings,
    unique: str,
    slack_standin: SlackStandIn,  # noqa: F811
) -> None:
    s = notifier_settings(settings, slack_standin.base_url, unique)
    s = replace(s, notifier=replace(s.notifier, storm_window=5.0))
    hosts = [f"web-{i:02d}" for i in range(30)]
    async with running(s):
        await produce_events(s, *(event(h) for h in hosts))
        await slack_standin.wait_for(lambda sl: len(sl.posted) == 1)
        deliveries = await read_topic(s, s.notifier.delivery_topic, 30)
    (message,) = slack_standin.posted
    assert "30 events on 30 hosts" in message["text"]
    assert all(h in message["text"] for h in hosts)
    assert sorted(d["host"] for d in deliveries) == hosts
    assert {d["result"] for d in deliveries} == {"sent"}
