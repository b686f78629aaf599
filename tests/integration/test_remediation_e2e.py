"""Recovery scripts end to end, on the real components, every service its own process:

collector (a custom item reads a flag file: 1 = broken) → stream worker (watch with a
`remediate:` binding) → URGENT → remediator → signed command → the same collector's
agent runs the allow-listed script, which removes the flag → the next sample is 0 →
recovery → the notifier's Slack message names the script and its result → rows in
ClickHouse's `remediations` table (the history writer runs in this process because
chDB lets one process own the store).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from pathlib import Path

from gamsi.collector.remediate import state_dir
from gamsi.history.service import run_history
from gamsi.settings import Settings
from tests.integration.kafka_io import free_port, gamsi_service
from tests.integration.test_pipeline_e2e import _history_rows
from tests.integration.test_remediator_service import trusted
from tests.support.slack_standin import SlackStandIn

TOKEN = "xoxb-remediation-e2e"
POLICY = """
version: 1
use_defaults: false
watches:
  - name: app-broken
    item: app.broken
    levels: {urgent: ">= 1"}
    remediate:
      - {script: fix-app, on: [urgent], args: ["${host}", "${item}"], timeout: 10s}
"""


def _executable(path: Path, text: str) -> None:
    path.write_text(text)
    path.chmod(0o755)


def _setup(settings: Settings, tmp: Path, host: str, slack_url: str) -> tuple[Settings, Path]:
    flag = tmp / "broken.flag"
    scripts = tmp / "scripts"
    scripts.mkdir(mode=0o755)
    _executable(scripts / "fix-app", f'#!/bin/sh\nrm -f {flag}\necho "fixed $1 $2"\n')
    check = tmp / "check-app"
    _executable(check, f"#!/bin/sh\nif [ -e {flag} ]; then echo 1; else echo 0; fi\n")
    (tmp / "policy.yaml").write_text(POLICY)
    s = trusted(settings, tmp, scripts)
    return replace(
        s,
        collector=replace(
            s.collector,
            host=host,
            interval=1.0,
            inputs=["command"],
            commands=[f"app.broken: {check}"],
            command_timeout=0.5,
        ),
        streams=replace(s.streams, policy_path=str(tmp / "policy.yaml")),
        notifier=replace(
            s.notifier, slack_token=TOKEN, slack_channel="#ops", slack_base_url=slack_url
        ),
        history=replace(s.history, query_port=free_port(), flush_interval=0.2),
    ), flag


async def test_breach_runs_the_script_which_fixes_it_and_the_recovery_names_it(
    settings: Settings, tmp_path: Path, unique: str
) -> None:
    host = f"fixme-{unique}"
    async with SlackStandIn(token=TOKEN) as slack:
        s, flag = _setup(settings, tmp_path, host, slack.base_url)
        stop = asyncio.Event()
        history = asyncio.create_task(run_history(s, stop))
        try:
            with (
                gamsi_service(s, "streams", "run", log=tmp_path / "streams.log"),
                gamsi_service(s, "notifier", "run", log=tmp_path / "notifier.log"),
                gamsi_service(s, "remediator", "run", log=tmp_path / "remediator.log"),
                gamsi_service(s, "collector", "run", log=tmp_path / "collector.log") as agent,
            ):
                position = state_dir(s) / "commands-position.json"
                deadline = time.monotonic() + 90
                while not position.exists():  # the agent writes it once it reads its partition
                    assert time.monotonic() < deadline, "the agent never read its commands"
                    assert agent.poll() is None, "the collector exited"
                    await asyncio.sleep(0.2)
                flag.touch()  # the breach
                await slack.wait_for(lambda st: len(st.posted) >= 2, within=120)
                raised, recovered = slack.posted[:2]
                assert "URGENT" in raised["text"]
                assert host in raised["text"]
                assert "RECOVERED" in recovered["text"]
                assert "recovered after fix-app: exit 0 in" in recovered["text"]
                assert recovered.get("thread_ts"), "the recovery is in the problem's thread"
                assert not flag.exists(), "the script removed the cause"
                rows = await _history_rows(
                    s,
                    f"SELECT status, script, args, exit_code, output FROM remediations "
                    f"WHERE host = '{host}' ORDER BY ts",
                    want=3,
                    within=90,
                )
        finally:
            stop.set()
            await history
    statuses = [r[0] for r in rows]
    assert statuses[:3] == ["issued", "ok", "recovered"], rows
    assert rows[1][1:] == ["fix-app", [host, "app.broken"], 0, f"fixed {host} app.broken\n"]
    assert len(slack.posted) == 2, "one raise, one recovery, nothing twice"
