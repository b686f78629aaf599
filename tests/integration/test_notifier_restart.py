"""A restarted notifier on the real broker: what it knows comes back from the ledger topic.

Each test stops the notifier and starts a new one, which starts with nothing in
memory and reads the compacted ledger topic: threads, who was told about each
problem, re-notification periods and escalation steps must carry on from there.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from gamsi.notifier.ledger import read_map
from gamsi.schemas.records import SeverityEvent
from gamsi.settings import Settings
from tests.integration.test_notifier_service import (
    event,
    notifier_settings,
    produce_events,
    running,
    wait_for_ledger,
)
from tests.support.slack_standin import SlackStandIn, slack_standin  # noqa: F401

ROUTING = """
channels:
  slack: {{type: slack, token_env: GAMSI_TEST_SLACK_TOKEN, channel: "#ops", base_url: "{url}"}}
recipients:
  ops: {{contacts: [{{channel: slack, to: "#ops"}}]}}
  loud: {{contacts: [{{channel: slack, to: "#loud", severities: [urgent]}}]}}
  boss: {{contacts: [{{channel: slack, to: "#boss"}}]}}
routes:
  - {{name: web, match: {{hosts: ["web-*"]}}, recipients: [ops, loud], stop: true}}
  - name: app
    match: {{hosts: ["app-*"]}}
    recipients: [ops]
    renotify_every: 2s
    escalate: [{{after: 1s, recipients: [boss]}}]
"""


@pytest.fixture
def routed(
    settings: Settings,
    unique: str,
    tmp_path: Path,
    slack_standin: SlackStandIn,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> Settings:
    monkeypatch.setenv("GAMSI_TEST_SLACK_TOKEN", "xoxb-restart-test")
    path = tmp_path / "routing.yaml"
    path.write_text(ROUTING.format(url=slack_standin.base_url))
    s = notifier_settings(settings, slack_standin.base_url, unique)
    return replace(s, notifier=replace(s.notifier, routing_file=str(path), tick_interval=0.2))


def to(standin: SlackStandIn, channel: str) -> list[dict[str, Any]]:
    return [m for m in standin.posted if m["channel"] == channel]


def key_of(message: dict[str, Any]) -> str:
    meta = message.get("metadata")
    if isinstance(meta, str):
        meta = json.loads(meta)
    return str(meta["event_payload"]["key"])


async def test_threads_and_who_was_told_come_back_from_the_ledger(
    routed: Settings,
    slack_standin: SlackStandIn,  # noqa: F811
) -> None:
    raised = event("web-01", severity=4)
    down = replace(event("web-01", "deescalate", severity=2, n=1), previous=4)
    async with running(routed):
        await produce_events(routed, raised)
        await slack_standin.wait_for(lambda sl: len(sl.posted) == 2)
        await wait_for_ledger(routed, lambda p: len(p) == 1)
    first = {m["channel"]: m for m in slack_standin.messages}
    async with running(routed):  # a new notifier: nothing in memory
        await produce_events(routed, down)  # CAUTION: #loud takes only URGENT, but it was told
        await slack_standin.wait_for(lambda sl: len(sl.posted) == 4)
        await produce_events(routed, event("web-01", "recover", severity=2, n=2))
        await slack_standin.wait_for(lambda sl: len(sl.posted) == 6)
    for channel in ("#ops", "#loud"):
        raise_, deescalate, recover = to(slack_standin, channel)
        assert "URGENT" in raise_["text"]
        assert deescalate["thread_ts"] == first[channel]["ts"]
        assert recover["thread_ts"] == first[channel]["ts"]
        assert "recovered" in recover["text"].lower()


async def test_follow_ups_carry_on_after_a_restart_without_repeats(
    routed: Settings,
    slack_standin: SlackStandIn,  # noqa: F811
) -> None:
    raised: SeverityEvent = event("app-01")
    async with running(routed):
        await produce_events(routed, raised)
        await slack_standin.wait_for(
            lambda sl: len(to(sl, "#ops")) >= 2 and len(to(sl, "#boss")) >= 1
        )
        await wait_for_ledger(routed, lambda p: any(v["escalated"] for v in p.values()))
    before = len(to(slack_standin, "#ops"))
    async with running(routed):
        await slack_standin.wait_for(lambda sl: len(to(sl, "#ops")) >= before + 2)
    ops = to(slack_standin, "#ops")
    assert [("still active" in m["text"]) for m in ops] == [False] + [True] * (len(ops) - 1)
    keys = [key_of(m) for m in slack_standin.posted]
    assert len(keys) == len(set(keys))  # no follow-up went out twice
    escalations = [m for m in to(slack_standin, "#boss") if "escalated" in m["text"]]
    assert len(escalations) == 1
    assert all(m["thread_ts"] for m in ops[1:])


async def test_a_recovery_held_by_maintenance_goes_out_after_a_restart(
    routed: Settings,
    slack_standin: SlackStandIn,  # noqa: F811
) -> None:
    async with running(routed):
        await produce_events(routed, event("web-02"))
        await slack_standin.wait_for(lambda sl: len(sl.posted) == 2)
    first = {m["channel"]: m["ts"] for m in slack_standin.messages}
    add_maintenance(Path(routed.notifier.routing_file), "web-02", time.time() + 15)
    async with running(routed):
        await produce_events(routed, event("web-02", "recover"))
        await wait_for_ledger(routed, lambda p: p == {})
        assert await ledger_keys(routed, "held:")  # held, in the ledger
    assert len(slack_standin.posted) == 2
    async with running(routed):  # a new notifier delivers it when the window ends
        await slack_standin.wait_for(lambda sl: len(sl.posted) == 4, within=40)
    for channel in ("#ops", "#loud"):
        _raise, recover = to(slack_standin, channel)
        assert "recovered" in recover["text"].lower()
        assert recover["thread_ts"] == first[channel]
    assert await ledger_keys(routed, "held:") == []


def add_maintenance(path: Path, host: str, end: float) -> None:
    """A one-off window over ``host`` that started long ago and ends at ``end`` (epoch s)."""
    iso = dt.datetime.fromtimestamp(end, dt.UTC).isoformat()
    path.write_text(
        f"{path.read_text()}maintenance:\n"
        f'  - {{name: swap, hosts: [{host}], start: "2020-01-01T00:00:00Z", end: "{iso}"}}\n'
    )


async def ledger_keys(settings: Settings, prefix: str) -> list[str]:
    data: dict[str, dict] = {}
    await read_map(settings, settings.notifier.ledger_topic, data)
    return [k for k in data if k.startswith(prefix)]
