"""Malformed records on the policy topic stop no worker (issue 10, section 2), real broker.

A record that is not a valid policy is skipped and counted; the last good policy stays
in force; a reader that starts while the latest record is bad takes the last good one;
a valid policy published on top is taken. The stream worker itself is checked too: it
starts with a bad latest record, survives another one while running, and judges by the
policy published on top.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from pathlib import Path

import orjson

from gamsi.schemas import MetricBatch, Sample, Severity, encode
from gamsi.schemas.codec import decode_severity_event
from gamsi.settings import Settings
from gamsi.streams.policy.feed import (
    POLICY_KEY,
    FeedStats,
    apply_policy,
    current_policy,
    follow_policies,
)
from tests.integration.kafka_io import CPU_SPIKE_POLICY, gamsi_service, produce, wait_for_records

BAD_RECORDS = [
    b'{"policy": "xyz"}',  # the example from the issue
    orjson.dumps({"v": 1, "kind": "policy", "policy": "xyz"}),
    orjson.dumps({"v": 1, "kind": "policy", "policy": {"watches": [{"name": "x"}]}}),
    b"\xff\xfe not json",
]


def policy_file(tmp_path: Path, name: str, threshold: int) -> Path:
    file = tmp_path / f"{name}.yaml"
    text = Path(CPU_SPIKE_POLICY).read_text().replace('">= 90"', f'">= {threshold}"')
    file.write_text(text.replace("name: cpu-spike", f"name: {name}"))
    return file


async def publish_bad(settings: Settings) -> None:
    topic = settings.kafka.policies_topic
    await produce(settings, topic, [(POLICY_KEY, value) for value in BAD_RECORDS])


async def test_no_policy_applied_reads_as_none(settings: Settings) -> None:
    assert await current_policy(settings) is None


async def test_bad_records_keep_the_last_good_policy(settings: Settings, tmp_path: Path) -> None:
    await apply_policy(settings, policy_file(tmp_path, "first", 90))
    await publish_bad(settings)

    # a reader starting now (a worker's start-up) takes the last good policy
    stats = FeedStats()
    applied = await current_policy(settings, stats=stats)
    assert applied is not None
    assert [w.name for w in applied[0].watches] == ["first"]
    assert stats.bad_records == len(BAD_RECORDS)
    assert stats.last_error.startswith(f"offset {len(BAD_RECORDS)}:")

    # a follower reads through them, then takes a valid policy published on top
    seen: list[str] = []
    caught_up, follow_stats = asyncio.Event(), FeedStats()
    task = asyncio.create_task(
        follow_policies(
            settings, lambda p, _: seen.append(p.watches[0].name), caught_up, follow_stats
        )
    )
    try:
        await asyncio.wait_for(caught_up.wait(), 30)
        assert seen == ["first"]
        assert follow_stats.bad_records == len(BAD_RECORDS)
        await apply_policy(settings, policy_file(tmp_path, "second", 80))
        for _ in range(300):
            if seen[-1] == "second" or task.done():
                break
            await asyncio.sleep(0.1)
        assert seen == ["first", "second"]
        assert not task.done()
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


def _batch(host: str, ts: float, seq: int, cpu: float) -> tuple[bytes, bytes]:
    sample = [Sample("cpu.util", cpu)]
    return host.encode(), encode(MetricBatch(host, ts, sample, seq=seq, interval=1.0, os="linux"))


async def _raises_at(
    settings: Settings, worker, host: str, cpu: float, t0: float, first_within: float = 2.0
) -> list:
    """Send ``cpu`` for ``host`` each second until the worker raises for it (bounded);
    the first wait is ``first_within`` seconds (a worker that is still starting)."""
    for second in range(60):
        assert worker.poll() is None, f"the worker exited with {worker.returncode}"
        batch = [_batch(host, t0 + second, second, cpu)]
        await produce(settings, settings.kafka.metrics_topic, batch)
        try:
            got = await wait_for_records(
                settings,
                settings.kafka.events_topic,
                lambda events: any(e.host == host for e in events),
                decode_severity_event,
                within=first_within if second == 0 else 2.0,
                service=worker,
            )
        except AssertionError:
            continue
        return [e for e in got if e.host == host]
    raise AssertionError(f"no event for {host}")


async def test_a_worker_starts_and_keeps_running_through_bad_records(
    settings: Settings, tmp_path: Path, unique: str
) -> None:
    settings = replace(settings, streams=replace(settings.streams, policy_path=CPU_SPIKE_POLICY))
    await apply_policy(settings, policy_file(tmp_path, "at-70", 70))
    await publish_bad(settings)  # the latest record is bad when the worker starts
    t0 = time.time() - 600
    with gamsi_service(settings, "streams", "run", log=tmp_path / "streams.log") as worker:
        # judged by the last good policy (70), not the file's (90)
        (event,) = await _raises_at(settings, worker, f"a-{unique}", 75.0, t0, 120.0)
        assert (event.watch, event.severity, event.threshold) == ("at-70", Severity.URGENT, 70.0)
        await publish_bad(settings)  # and again while it runs
        await apply_policy(settings, policy_file(tmp_path, "at-50", 50))
        events = await _raises_at(settings, worker, f"b-{unique}", 55.0, t0)
        assert [(e.watch, e.threshold) for e in events] == [("at-50", 50.0)]
        assert worker.poll() is None
    log = (tmp_path / "streams.log").read_text()
    assert "policy topic: record at offset 1 skipped" in log
