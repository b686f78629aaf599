"""Poison records on the real broker: the notifier and the history writer keep going,
and each poison record is dead-lettered exactly once per consumer, even across a restart
(issue 10, section 1). Real Kafka, real chDB, the Slack stand-in."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import orjson

from gamsi.history.client import remote, service_answers
from gamsi.history.service import run_history
from gamsi.notifier.service import run_notifier
from gamsi.schemas.codec import decode, encode
from gamsi.schemas.records import MAX_DEAD_LETTER_BYTES, DeadLetter, MetricBatch, Sample
from gamsi.schemas.records import SeverityEvent as Event
from gamsi.settings import Settings
from tests.integration.kafka_io import (
    CPU_SPIKE_POLICY,
    committed,
    free_port,
    gamsi_service,
    produce,
    until,
    wait_for_records,
)
from tests.support.slack_standin import SlackStandIn, slack_standin  # noqa: F401

TOKEN = "xoxb-standin-token-0123456789"
WAIT = 60.0


def _event(host: str, n: int, **changes: Any) -> bytes:
    now = time.time()
    event = Event(
        event_id=f"{host}-{n}",
        host=host,
        item="cpu.util",
        instance="",
        watch="cpu-high",
        severity=4,
        previous=0,
        transition="raise",
        value=97.5,
        threshold=90.0,
        ts=now,
        since=now - 30,
    )
    return orjson.dumps({**orjson.loads(encode(event)), **changes})


def _nested_tags(data: bytes) -> bytes:
    return data[:-1] + b',"tags":' + b"[" * 1000 + b'"x"' + b"]" * 1000 + b"}"


CONTROL = bytes(range(32)) * 6400  # 200 kB of control bytes


def _poison_events(host: str) -> list[bytes]:
    return [
        CONTROL,
        _nested_tags(_event(host, 1)),
        _event(host, 2, severity=6),
        _event(host, 3, severity=-1),
        _event("", 4),
        _event(host, 5, ts=10_000_000_000.0),
        _event("evil2\nFAKE [URGENT] line", 6, event_id=f"{host}-6"),  # a forged log line
    ]


def _settings(settings: Settings, base_url: str, unique: str) -> Settings:
    n = replace(
        settings.notifier,
        slack_token=TOKEN,
        slack_channel="#ops",
        slack_base_url=base_url,
        storm_window=0.0,
    )
    h = replace(settings.history, query_port=free_port(), flush_interval=0.2)
    return replace(settings, notifier=n, history=h)


@contextlib.asynccontextmanager
async def _services(s: Settings) -> AsyncIterator[None]:
    stop = asyncio.Event()
    tasks = [asyncio.create_task(run_notifier(s, stop)), asyncio.create_task(run_history(s, stop))]
    try:
        yield
    finally:
        stop.set()
        await asyncio.wait_for(asyncio.gather(*tasks), WAIT)


async def _allcommitted(s: Settings, events: int, metrics: int) -> bool:
    k = s.kafka
    return (
        await committed(s, s.notifier.group_id, k.events_topic) == events
        and await committed(s, s.history.group_id, k.events_topic) == events
        and await committed(s, s.history.group_id, k.metrics_topic) == metrics
    )


async def _stored(s: Settings, host: str) -> list[list[Any]]:
    """The event ids history stored for ``host`` (none while its endpoint is not up)."""
    if not await asyncio.to_thread(service_answers, s):
        return []
    sql = f"SELECT event_id FROM events FINAL WHERE host = '{host}' ORDER BY event_id"
    return (await asyncio.to_thread(remote(s), sql)).rows


async def _delivered(s: Settings, event_ids: set[str]) -> None:
    """Wait until the notifier logged a sent delivery for each of ``event_ids``."""

    def done(records: list[dict[str, Any]]) -> bool:
        return event_ids <= {r["event_id"] for r in records if r["result"] == "sent"}

    await wait_for_records(s, s.notifier.delivery_topic, done, orjson.loads, within=WAIT)


async def _dead_letters(s: Settings, at_least: int) -> list[DeadLetter]:
    letters = await wait_for_records(
        s, s.kafka.deadletter_topic, lambda r: len(r) >= at_least, decode
    )
    assert all(isinstance(letter, DeadLetter) for letter in letters)
    return letters


async def test_poison_records_are_dead_lettered_once_and_consumers_go_on(
    settings: Settings,
    unique: str,
    slack_standin: SlackStandIn,  # noqa: F811
) -> None:
    slack_standin.token = TOKEN
    s = _settings(settings, slack_standin.base_url, unique)
    host = f"h-{unique}"
    good = MetricBatch(host=host, ts=time.time(), samples=[Sample("cpu.util", 50.0)])
    metrics = [CONTROL, _nested_tags(encode(good)), encode(good)]
    events = [_event(host, 0), *_poison_events(host), _event(host, 9, item="mem.used_pct")]
    await produce(s, s.kafka.metrics_topic, [(host.encode(), m) for m in metrics])
    await produce(s, s.kafka.events_topic, [(host.encode(), e) for e in events])

    async with _services(s):
        await _delivered(s, {f"{host}-0", f"{host}-9"})
        assert await until(lambda: _stored(s, host), "good events stored") == [
            [f"{host}-0"],
            [f"{host}-9"],
        ]
        await until(lambda: _allcommitted(s, len(events), len(metrics)), "offsets committed")
    letters = await _dead_letters(s, 2 * 7 + 2)

    # A restart reads from the committed offsets: nothing is dead-lettered again.
    await produce(
        s, s.kafka.events_topic, [(host.encode(), _event(host, 10, item="swap.used_pct"))]
    )
    async with _services(s):
        await _delivered(s, {f"{host}-0", f"{host}-9", f"{host}-10"})
        await until(lambda: _allcommitted(s, len(events) + 1, len(metrics)), "committed")
    again = await _dead_letters(s, len(letters))

    told = "\n".join(p["text"] for p in slack_standin.posted)
    assert {f"{host}-{n}" for n in (0, 9, 10)} <= set(told.replace(",", " ").split())
    for n in range(1, 7):  # no poison event was notified
        assert f"{host}-{n}" not in told.replace(",", " ").split()
    where = Counter((d.worker.split("@")[0], d.source_topic, d.offset) for d in again)
    assert set(where.values()) == {1}, f"a dead letter written twice: {where}"
    by_worker = Counter(d.worker.split("@")[0] for d in again)
    assert by_worker == {"notifier": 7, "gamsi-history": 9}
    for letter in again:
        assert len(encode(letter)) < MAX_DEAD_LETTER_BYTES
    control = [d for d in again if d.payload_size == len(CONTROL)]
    assert len(control) == 3  # metrics (history) and events (notifier, history)
    assert all(d.reason.startswith("not JSON") for d in control)
    assert all(d.payload == CONTROL[:4096].decode() for d in control), "cut, not dropped"
    reasons = {d.reason for d in again if d.worker.startswith("notifier")}
    assert any("severity: expected a severity 0..5, got 6" in r for r in reasons)
    assert any("tags: expected a list of strings, got a list of 1 item" in r for r in reasons)
    assert any(r.startswith("host: control character \\x0a at position 5") for r in reasons)


async def test_stream_worker_dead_letters_poison_batches_and_judges_the_next(
    settings: Settings, tmp_path: Path, unique: str
) -> None:
    """The real Faust worker: 200 kB of control bytes (once dropped without a dead
    letter), a 1,000-deep tags list and an impossible time each become one bounded dead
    letter; the good batch after them is judged. So do the tester's batches with an
    escape sequence or a newline in a name (they would reach terminals raw)."""
    host = f"web-{unique}"
    good = MetricBatch(host, time.time(), [Sample("cpu.util", 97.0)], os="linux")
    poison = [CONTROL, _nested_tags(encode(good)), encode(replace(good, ts=1e300))]
    poison.append(encode(replace(good, host="evil\x1b[31mRED\x1b[0m")))
    poison.append(encode(replace(good, samples=[Sample("cpu.util", 99.0, "a\nFAKE")])))
    await produce(
        settings,
        settings.kafka.metrics_topic,
        [(host.encode(), p) for p in [*poison, encode(good)]],
    )
    s = replace(settings, streams=replace(settings.streams, policy_path=CPU_SPIKE_POLICY))
    with gamsi_service(s, "streams", "run", log=tmp_path / "streams.log") as worker:
        events = await wait_for_records(
            s, s.kafka.events_topic, lambda got: len(got) >= 1, decode, within=90, service=worker
        )
        letters = await _dead_letters(s, len(poison))
        assert worker.poll() is None, "the worker must survive poison batches"
    assert [(e.host, e.transition) for e in events] == [(host, "raise")]
    assert [letter.offset for letter in letters] == list(range(len(poison)))
    assert letters[0].payload_size == len(CONTROL)
    assert letters[0].reason.startswith("not JSON")
    assert "tags: expected a list of strings, got a list of 1 item" in letters[1].reason
    assert "ts: expected seconds since 1970" in letters[2].reason
    assert letters[3].reason.startswith("host: control character \\x1b at position 4")
    assert "samples[0].instance: control character \\x0a" in letters[4].reason
    assert all(len(encode(letter)) < MAX_DEAD_LETTER_BYTES for letter in letters)
