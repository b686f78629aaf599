"""The agent's command listener on the real broker: hostile commands written to the
commands topic by hand run nothing, and each one comes back as a row with its reason.

The listener (collector/remediate.py) runs in this process as the collector runs it,
reading its host's partition of the commands topic without a consumer group; the test
restarts it to show that a replay is refused after a restart too.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gamsi.collector.remediate import listen, state_dir
from gamsi.remediator import records as R
from gamsi.remediator.keys import key_id, load_private, sign
from gamsi.remediator.records import Command, command_payload, decode_remediation
from gamsi.remediator.records import signed_envelope as envelope_of
from gamsi.settings import Settings
from gamsi.topics import ensure_topics
from tests.integration.kafka_io import produce, wait_for_records
from tests.integration.test_remediator_service import trusted

PWNED = Path("/tmp/gamsi-remediation-pwned")


class Bench:
    """Keys, an allow-list with a marker script, and the listener task of host ``host``."""

    def __init__(self, settings: Settings, tmp: Path, unique: str) -> None:
        self.host = f"agent-{unique}"
        self.scripts = tmp / "scripts"
        self.scripts.mkdir(mode=0o755)
        self.marks = tmp / "marks"
        self.marks.mkdir()
        for name, mode in (("mark", 0o755), ("world-writable", 0o757)):
            path = self.scripts / name
            path.write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" > {self.marks}/$GAMSI_COMMAND_ID\n')
            path.chmod(mode)
        s = trusted(settings, tmp, self.scripts)
        self.settings = replace(s, collector=replace(s.collector, host=self.host))
        self.key = load_private(Path(s.remediator.private_key_file))
        self.stop = asyncio.Event()
        self.task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        position = state_dir(self.settings) / "commands-position.json"
        self.stop = asyncio.Event()
        self.task = asyncio.create_task(listen(self.settings, self.stop))
        deadline = time.monotonic() + 60
        while not position.exists():  # positioned on its partition: commands may come
            assert time.monotonic() < deadline, "the listener never took its partition"
            assert not self.task.done(), self.task
            await asyncio.sleep(0.1)

    async def restart(self) -> None:
        await self.halt()
        await self.start()

    async def halt(self) -> None:
        self.stop.set()
        if self.task is not None:
            await self.task

    def command(self, key: Ed25519PrivateKey | None = None, **kw: Any) -> bytes:
        now = time.time()
        fields: dict[str, Any] = {
            "command_id": f"c{time.monotonic_ns()}",
            "host": self.host,
            "script": "mark",
            "args": ["hello"],
            "timeout": 10.0,
            "issued_at": now,
            "expires_at": now + 60,
        }
        cmd = Command(**{**fields, **kw})
        key = key or self.key
        payload = command_payload(cmd)
        return envelope_of(payload, sign(key, payload), key_id(key.public_key()))

    async def send(self, *values: bytes, host: str | None = None) -> None:
        key = (host or self.host).encode()
        await produce(
            self.settings, self.settings.remediator.commands_topic, [(key, v) for v in values]
        )

    async def rows(self, want: Callable[[list[R.Remediation]], bool]) -> list[R.Remediation]:
        return await wait_for_records(
            self.settings,
            self.settings.remediator.results_topic,
            want,
            decode=decode_remediation,
            within=60,
        )

    def ran(self) -> list[str]:
        return sorted(p.name for p in self.marks.iterdir())


@pytest.fixture
async def bench(settings: Settings, tmp_path: Path, unique: str) -> AsyncIterator[Bench]:
    b = Bench(settings, tmp_path, unique)
    await ensure_topics(b.settings)
    await b.start()
    try:
        yield b
    finally:
        await b.halt()


async def test_hostile_commands_run_nothing_and_each_is_recorded_with_its_reason(
    bench: Bench,
) -> None:
    good = bench.command(command_id="good-1", args=["x; touch /tmp/gamsi-remediation-pwned"])
    forged = bench.command(command_id="forged").replace(b'\\"mark\\"', b'\\"evil\\"')
    past = time.time() - 300
    cases = {
        "forged": forged,
        "other-key": bench.command(Ed25519PrivateKey.generate(), command_id="other-key"),
        "expired": bench.command(command_id="expired", issued_at=past - 60, expires_at=past),
        "missing": bench.command(command_id="missing", script="no-such-script"),
        "dotdot": bench.command(command_id="dotdot", script="../mark"),
        "absolute": bench.command(command_id="absolute", script="/bin/sh"),
        "world-writable": bench.command(command_id="world-writable", script="world-writable"),
        "newline": bench.command(command_id="newline", args=["a\nrm -rf /"]),
        "nul": bench.command(command_id="nul", args=["a\x00b"]),
        "other-host": bench.command(command_id="other-host", host=f"{bench.host}\nx"),
    }
    await bench.send(good, *cases.values())
    # a command keyed to another host is not this agent's business: no row from it
    await bench.send(bench.command(command_id="elsewhere", host="elsewhere"), host="elsewhere")
    rows = await bench.rows(lambda rs: len(rs) >= 1 + len(cases))
    by_id = {r.command_id: r for r in rows}
    assert by_id["good-1"].status == R.OK
    # metacharacters are one literal argument: the script saw the text, nothing was run
    assert (bench.marks / "good-1").read_text() == "x; touch /tmp/gamsi-remediation-pwned\n"
    assert not PWNED.exists()  # noqa: ASYNC240 - one stat in a test
    assert bench.ran() == ["good-1"]
    rejected = [r for r in rows if r.status == R.REJECTED]
    assert len(rejected) == len(cases)
    expected = {
        "expired": "expired",
        "missing": "not allow-listed: no script",
        "dotdot": "not a plain script name",
        "absolute": "not a plain script name",
        "world-writable": "writable by group or others",
        "newline": "unsafe argument",
        "nul": "unsafe argument",
        "other-host": "for another host",
    }
    for cid, text in expected.items():
        assert text in by_id[cid].reason, (cid, by_id[cid].reason)
    # an unverified command's fields are not trusted, not even its id
    unverified = [r for r in rejected if not r.command_id]
    assert [r.reason.split(":")[0] for r in unverified] == ["signature", "signature"]
    assert all(r.host == bench.host for r in rows)


async def test_a_replayed_command_is_refused_also_after_the_agent_restarts(bench: Bench) -> None:
    value = bench.command(command_id="once")
    await bench.send(value)
    await bench.rows(lambda rs: len(rs) >= 1)
    await bench.send(value)
    await bench.restart()
    await bench.send(value)
    rows = await bench.rows(lambda rs: len(rs) >= 3)
    assert [r.status for r in rows] == [R.OK, R.REJECTED, R.REJECTED]
    assert all(r.reason.startswith("replayed") for r in rows[1:])
    assert bench.ran() == ["once"]


async def test_a_hanging_script_is_killed_with_its_children_and_reported(bench: Bench) -> None:
    pidfile = bench.marks / "child.pid"
    hang = bench.scripts / "hang"
    hang.write_text(f"#!/bin/sh\nsleep 300 &\necho $! > {pidfile}\necho waiting\nwait\n")
    hang.chmod(0o755)
    await bench.send(bench.command(command_id="hang-1", script="hang", timeout=1.0))
    (row,) = await bench.rows(lambda rs: len(rs) >= 1)
    assert (row.status, row.exit_code, row.output) == (R.TIMED_OUT, -1, "waiting\n")
    # the child held the output pipe open: had it survived, the read would have hung
    assert row.duration_s >= 1.0
    child = int(pidfile.read_text())
    deadline = time.monotonic() + 10
    while _state(child) not in ("Z", "gone"):
        assert time.monotonic() < deadline, "the script's child outlived its timeout"
        await asyncio.sleep(0.05)


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2]
    except (FileNotFoundError, IndexError):
        return "gone"
