"""The remediator service (`gamsi remediator run`) on the real broker.

Severity events are written to the events topic by hand, as a stream worker would;
the bindings come from the policy file the remediator reads. One test runs an agent
listener in this process with a script that keeps failing: the attempts stop at the
cap; a host in maintenance gets no command; a dry-run binding records and issues
nothing. The other kills the remediator with SIGKILL in the middle of a stream of
raises and checks that no attempt of any incident was issued twice.
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any

import orjson

from gamsi.collector.remediate import listen, state_dir
from gamsi.remediator import records as R
from gamsi.remediator.keys import keygen
from gamsi.remediator.records import decode_remediation, open_envelope
from gamsi.schemas import encode
from gamsi.schemas.records import SeverityEvent
from gamsi.settings import Settings
from gamsi.topics import ensure_topics
from tests.integration.kafka_io import gamsi_service, produce, wait_for_records

POLICY = """
version: 1
use_defaults: false
watches:
  - name: svc-down
    item: svc.up
    levels: {urgent: "< 1"}
    remediate:
      - {script: fix, on: [urgent, fatal], args: ["${host}", "${value}"], cooldown: 0,
         max_attempts: 2, timeout: 5s}
  - name: lb
    item: lb.up
    levels: {urgent: "< 1"}
    remediate:
      - {script: fix, on: [urgent], where: central, max_attempts: 1, cooldown: 0}
  - name: dry
    item: dry.up
    levels: {urgent: "< 1"}
    remediate:
      - {script: fix, on: [urgent], dry_run: true}
"""
ROUTING = """
maintenance:
  - {name: patching, hosts: ["maint-*"], start: "2020-01-01T00:00:00", end: "2099-01-01T00:00:00"}
"""


def trusted(settings: Settings, tmp: Path, scripts: Path, **limits: Any) -> Settings:
    """``settings`` with a fresh key pair (the agent trusting it) and ``scripts`` as the
    allow-list; the test's own topics come from the ``settings`` fixture."""
    private, public = keygen(tmp / "keys" / "remediator.key")
    return replace(
        settings,
        remediator=replace(
            settings.remediator,
            private_key_file=str(private),
            public_key_file=str(public),
            scripts_dir=str(scripts),
            **limits,
        ),
    )


def configure(settings: Settings, tmp: Path, **limits: Any) -> Settings:
    (tmp / "policy.yaml").write_text(POLICY)
    (tmp / "routing.yaml").write_text(ROUTING)
    scripts = tmp / "scripts"
    scripts.mkdir(mode=0o755)
    fix = scripts / "fix"
    fix.write_text('#!/bin/sh\necho "cannot fix $1"\nexit 1\n')
    fix.chmod(0o755)
    s = trusted(settings, tmp, scripts, **limits)
    return replace(
        s,
        streams=replace(s.streams, policy_path=str(tmp / "policy.yaml")),
        notifier=replace(s.notifier, routing_file=str(tmp / "routing.yaml")),
    )


def raised(host: str, watch: str = "svc-down", item: str = "svc.up") -> SeverityEvent:
    now = time.time()
    return SeverityEvent(
        event_id=f"{host}:{watch}:raise",
        host=host,
        item=item,
        instance="",
        watch=watch,
        severity=4,
        previous=0,
        transition="raise",
        value=0.0,
        threshold=1.0,
        ts=now,
        since=now,
    )


async def send_events(settings: Settings, events: list[SeverityEvent]) -> None:
    await produce(
        settings, settings.kafka.events_topic, [(e.host.encode(), encode(e)) for e in events]
    )


async def rows(settings: Settings, done: Any, **kw: Any) -> list[R.Remediation]:
    return await wait_for_records(
        settings, settings.remediator.results_topic, done, decode=decode_remediation, **kw
    )


async def commands(settings: Settings, at_least: int) -> list[str]:
    """The command ids on the commands topic (signatures are the agent's business)."""
    topic = settings.remediator.commands_topic
    envelopes = await wait_for_records(settings, topic, lambda r: len(r) >= at_least)
    return [orjson.loads(open_envelope(v)[0])["command_id"] for v in envelopes]


async def test_cap_maintenance_and_dry_run(settings: Settings, tmp_path: Path, unique: str) -> None:
    s = configure(settings, tmp_path)
    loop_host, maint_host, dry_host = f"loop-{unique}", f"maint-{unique}", f"dry-{unique}"
    lb_host = f"lb-{unique}"
    agent = replace(s, collector=replace(s.collector, host=loop_host))
    await ensure_topics(s)
    stop = asyncio.Event()
    listener = asyncio.create_task(listen(agent, stop))
    try:
        position = state_dir(agent) / "commands-position.json"
        deadline = time.monotonic() + 60
        while not position.exists():
            assert time.monotonic() < deadline, "the agent never took its partition"
            await asyncio.sleep(0.1)
        with gamsi_service(s, "remediator", "run", log=tmp_path / "remediator.log") as proc:
            await send_events(
                s,
                [
                    raised(loop_host),
                    raised(maint_host),
                    raised(dry_host, "dry", "dry.up"),
                    raised(lb_host, "lb", "lb.up"),
                ],
            )
            got = await rows(
                s,
                lambda rs: {loop_host, lb_host} <= {r.host for r in rs if r.status == R.STOPPED},
                within=90,
                service=proc,
            )
    finally:
        stop.set()
        await listener
    mine = [(r.status, r.attempt) for r in got if r.host == loop_host]  # the agent's rows
    assert mine == [
        (R.ISSUED, 1),
        (R.FAILED, 1),
        (R.ISSUED, 2),
        (R.FAILED, 2),
        (R.STOPPED, 2),
    ], mine
    # rows of several hosts interleave (their partitions differ): pick the loop host's
    stopped = next(r for r in got if r.status == R.STOPPED and r.host == loop_host)
    assert stopped.reason.startswith("cap")
    assert "cannot fix" in stopped.output
    issued = next(r for r in got if r.status == R.ISSUED and r.host == loop_host)
    assert issued.args == [loop_host, "0"]
    maint = [r for r in got if r.host == maint_host]
    assert [(r.status, r.reason) for r in maint] == [(R.SKIPPED, "maintenance patching")]
    dry = [r for r in got if r.host == dry_host]
    assert [(r.status, r.reason) for r in dry] == [(R.DRY_RUN, "binding dry_run")]
    assert dry[0].script == "fix"
    # where: central runs on the remediator's host, through the same checks, no command
    central = [(r.status, r.runs_on, r.by.split("@")[0]) for r in got if r.host == lb_host]
    assert central[:2] == [(R.ISSUED, "central", "remediator"), (R.FAILED, "central", "central")]
    assert len(await commands(s, 2)) == 2, "only the loop host's two attempts went out"


async def test_sigkill_mid_stream_issues_no_attempt_twice(
    settings: Settings, tmp_path: Path, unique: str
) -> None:
    s = configure(settings, tmp_path, max_running=100_000, command_ttl=3600.0)
    hosts = [f"k{i}-{unique}" for i in range(1500)]
    await ensure_topics(s)
    await send_events(s, [raised(h) for h in hosts])
    log = tmp_path / "remediator.log"
    with gamsi_service(s, "remediator", "run", log=log) as first:
        await rows(s, lambda rs: len(rs) >= 100, within=90, service=first)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=30)
    before = await rows(s, lambda rs: True)
    assert len(before) < len(hosts), "the kill came after the stream was done"
    with gamsi_service(s, "remediator", "run", log=log) as second:
        after = await rows(
            s,
            lambda rs: len({r.host for r in rs if r.status == R.ISSUED}) >= len(hosts),
            within=180,
            service=second,
        )
    issued = Counter((r.incident, r.attempt) for r in after if r.status == R.ISSUED)
    assert len(issued) == len(hosts)
    assert max(issued.values()) == 1, [k for k, n in issued.items() if n > 1][:5]
    # the row goes out before its command: a kill between them loses that one command
    # (at most once), so all but one command are on the topic
    ids = Counter(await commands(s, len(hosts) - 1))
    assert max(ids.values()) == 1, "a command went out twice"
    assert len(ids) <= len(hosts)
