"""The whole pipeline on the real components: batch → Faust worker → severity event →
notifier → Slack (slack-sdk against a local stand-in of the Web API) → history in
ClickHouse (chDB); then a normal value → recovery → a second message in the thread.

The stream worker and the notifier run as their own processes, started with the
`gamsi` command exactly as `gamsi up` starts them; the history writer runs in this
process because chDB lets one process own the store (the test reads it through the
writer's query endpoint, as `gamsi history query` does).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from gamsi.history.client import remote
from gamsi.history.service import run_history
from gamsi.schemas import MetricBatch, Sample, encode
from gamsi.settings import Settings
from tests.integration.kafka_io import CPU_SPIKE_POLICY, free_port, gamsi_service, produce
from tests.support.slack_standin import SlackStandIn

TOKEN = "xoxb-e2e-test-token"
CHANNEL = "#ops-e2e"


async def _history_rows(settings: Settings, sql: str, want: int, within: float = 60) -> list[Any]:
    run = remote(settings)
    deadline = time.monotonic() + within
    rows: list[Any] = []
    while time.monotonic() < deadline:
        try:
            rows = (await asyncio.to_thread(run, sql)).rows
        except OSError:
            rows = []  # the endpoint is not listening yet
        if len(rows) >= want:
            return rows
        await asyncio.sleep(0.2)
    raise AssertionError(f"history had {rows} for {sql!r} after {within} s")


async def test_breach_notifies_slack_and_lands_in_clickhouse_then_recovers_in_thread(
    settings: Settings, tmp_path: Path, unique: str
) -> None:
    host = f"e2e-{unique}"
    async with SlackStandIn(token=TOKEN) as slack:
        settings = replace(
            settings,
            streams=replace(settings.streams, policy_path=CPU_SPIKE_POLICY),
            notifier=replace(
                settings.notifier,
                slack_token=TOKEN,
                slack_channel=CHANNEL,
                slack_base_url=slack.base_url,
            ),
            history=replace(settings.history, query_port=free_port(), flush_interval=0.2),
        )
        stop = asyncio.Event()
        history = asyncio.create_task(run_history(settings, stop))
        try:
            with (
                gamsi_service(settings, "streams", "run", log=tmp_path / "streams.log"),
                gamsi_service(settings, "notifier", "run", log=tmp_path / "notifier.log"),
            ):
                t0 = time.time()
                breach = MetricBatch(host, t0, [Sample("cpu.util", 97.5)], seq=1, os="linux")
                await produce(
                    settings, settings.kafka.metrics_topic, [(host.encode(), encode(breach))]
                )
                await slack.wait_for(lambda s: len(s.posted) >= 1, within=90)
                first = slack.posted[0]
                assert first["channel"] == CHANNEL
                assert host in first["text"]
                assert "cpu.util" in first["text"]
                assert "URGENT" in first["text"]
                raised = await _history_rows(
                    settings,
                    f"SELECT transition, severity, value FROM events FINAL WHERE host = '{host}'",
                    want=1,
                )
                assert raised == [["raise", 4, 97.5]]

                normal = MetricBatch(host, t0 + 10, [Sample("cpu.util", 12.0)], seq=2, os="linux")
                await produce(
                    settings, settings.kafka.metrics_topic, [(host.encode(), encode(normal))]
                )
                await slack.wait_for(lambda s: len(s.posted) >= 2, within=90)
                second = slack.posted[1]
                assert second["channel"] == CHANNEL
                assert host in second["text"]
                assert "recover" in second["text"].lower()
                # the recovery goes in the first message's thread: the ts Slack gave that message
                assert second.get("thread_ts") == slack.messages[0]["ts"]
                both = await _history_rows(
                    settings,
                    f"SELECT transition FROM events FINAL WHERE host = '{host}' ORDER BY ts",
                    want=2,
                )
                assert both == [["raise"], ["recover"]]
                samples = await _history_rows(
                    settings,
                    f"SELECT value FROM samples WHERE host = '{host}' ORDER BY ts",
                    want=2,
                )
                assert samples == [[97.5], [12.0]]
                told = await _history_rows(
                    settings,
                    "SELECT transition, channel, result FROM deliveries "
                    f"WHERE host = '{host}' ORDER BY ts",
                    want=2,
                )
                assert told == [["raise", "slack", "sent"], ["recover", "slack", "sent"]]
        finally:
            stop.set()
            await history
    assert len(slack.posted) == 2, "one message per transition, nothing twice"
    assert all(r.authorization == f"Bearer {TOKEN}" for r in slack.requests)
