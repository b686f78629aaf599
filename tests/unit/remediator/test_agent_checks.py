"""The agent's checks and runner, on real files and real processes (no Kafka).

Every hostile command must run nothing and come back as a ``rejected`` row naming its
reason; an allowed one runs without a shell, in a clean environment, killed with its
children at its timeout.
"""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import replace
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gamsi.collector.remediate import Budget, CommandGuard, SeenStore, host_partition
from gamsi.remediator import records as R
from gamsi.remediator.keys import key_id, sign
from gamsi.remediator.records import Command, command_payload, signed_envelope
from gamsi.settings import Settings, load_settings

HOST = "web-1"


def command(**kw: object) -> Command:
    now = time.time()
    fields: dict[str, object] = {
        "command_id": os.urandom(8).hex(),
        "host": HOST,
        "script": "probe",
        "args": [],
        "timeout": 10.0,
        "issued_at": now,
        "expires_at": now + 60,
    }
    return Command(**{**fields, **kw})  # type: ignore[arg-type]


def envelope(key: Ed25519PrivateKey, cmd: Command) -> bytes:
    payload = command_payload(cmd)
    return signed_envelope(payload, sign(key, payload), key_id(key.public_key()))


def write_script(directory: Path, name: str, body: str, mode: int = 0o755) -> Path:
    path = directory / name
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(mode)
    return path


class Agent:
    def __init__(self, tmp: Path) -> None:
        self.key = Ed25519PrivateKey.generate()
        self.scripts = tmp / "scripts"
        self.scripts.mkdir(mode=0o755)
        self.out = tmp / "out"
        self.out.mkdir()
        self.state = tmp / "state"
        base = load_settings(environ={})
        self.settings: Settings = replace(
            base, remediator=replace(base.remediator, scripts_dir=str(self.scripts))
        )
        # probe: writes its argv, one per line, and its environment to files
        write_script(
            self.scripts,
            "probe",
            f'for a in "$@"; do printf "%s\\n" "$a"; done > {self.out}/argv\n'
            f"env > {self.out}/env\necho probed\n",
        )
        self.guard = self.restart()

    def restart(self) -> CommandGuard:
        store = SeenStore(self.state, time.time())
        self.guard = CommandGuard(self.settings, (self.key.public_key(),), HOST, store)
        return self.guard

    def handle(self, value: bytes) -> R.Remediation:
        return asyncio.run(self.guard.handle(value, time.time()))

    def ran(self) -> bool:
        return (self.out / "argv").exists()


@pytest.fixture
def agent(tmp_path: Path) -> Agent:
    return Agent(tmp_path)


def test_a_good_command_runs_with_literal_argv_and_a_clean_environment(agent: Agent) -> None:
    hostile = ["x; touch /tmp/gamsi-pwned", "$(id)", "`id`", "a|b", "'\"", "*"]
    row = agent.handle(envelope(agent.key, command(args=hostile)))
    assert row.status == R.OK, row.reason
    assert row.exit_code == 0
    assert row.output == "probed\n"
    assert (agent.out / "argv").read_text().splitlines() == hostile
    assert not Path("/tmp/gamsi-pwned").exists()
    env = dict(line.split("=", 1) for line in (agent.out / "env").read_text().splitlines())
    assert env["PATH"].startswith("/usr/local/sbin")
    assert "GAMSI_TEST_BOOTSTRAP" not in env
    assert env["GAMSI_COMMAND_ID"] == row.command_id


def _reason(agent: Agent, value: bytes) -> str:
    row = agent.handle(value)
    assert row.status == R.REJECTED, row
    assert not agent.ran(), "a rejected command ran"
    return row.reason


def test_forged_signature_and_another_key_are_rejected(agent: Agent) -> None:
    cmd = command()
    good = envelope(agent.key, cmd)
    forged = good.replace(b'\\"probe\\"', b'\\"other\\"')
    assert forged != good
    assert _reason(agent, forged).startswith("signature")
    other = Ed25519PrivateKey.generate()
    assert _reason(agent, envelope(other, command())).startswith("signature")
    assert _reason(agent, b"not json").startswith("malformed")


def test_expired_and_other_host_are_rejected(agent: Agent) -> None:
    past = time.time() - 120
    expired = command(issued_at=past - 60, expires_at=past)
    assert _reason(agent, envelope(agent.key, expired)).startswith("expired")
    assert _reason(agent, envelope(agent.key, command(host="db-1"))).startswith("for another host")


def test_a_replay_is_rejected_also_after_a_restart(agent: Agent) -> None:
    value = envelope(agent.key, command(script="true-ish"))
    write_script(agent.scripts, "true-ish", "exit 0\n")
    assert agent.handle(value).status == R.OK
    assert agent.handle(value).reason.startswith("replayed")
    agent.restart()
    assert agent.handle(value).reason.startswith("replayed")


@pytest.mark.parametrize(
    ("script", "expected"),
    [
        ("missing", "not allow-listed: no script"),
        ("../probe", "not a plain script name"),
        ("/bin/sh", "not a plain script name"),
        ("sub/probe", "not a plain script name"),
    ],
)
def test_scripts_outside_the_allow_list_are_rejected(
    agent: Agent, script: str, expected: str
) -> None:
    assert expected in _reason(agent, envelope(agent.key, command(script=script)))


def test_writable_foreign_linked_or_plain_files_are_rejected(agent: Agent) -> None:
    write_script(agent.scripts, "ww", "touch ran\n", 0o757)
    write_script(agent.scripts, "gw", "touch ran\n", 0o775)
    write_script(agent.scripts, "noexec", "touch ran\n", 0o644)
    os.chown(write_script(agent.scripts, "foreign", "touch ran\n"), 65534, 65534)
    (agent.scripts / "link").symlink_to("/bin/true")
    cases = {
        "ww": "writable by group or others",
        "gw": "writable by group or others",
        "noexec": "not executable",
        "foreign": "not owned by root",
        "link": "is a symlink",
    }
    for name, expected in cases.items():
        assert expected in _reason(agent, envelope(agent.key, command(script=name)))
    agent.scripts.chmod(0o777)
    reason = _reason(agent, envelope(agent.key, command()))
    assert "scripts directory" in reason
    assert "writable" in reason
    agent.scripts.chmod(0o755)
    agent.scripts.parent.chmod(0o777)  # another user could swap the whole directory
    reason = _reason(agent, envelope(agent.key, command()))
    assert "above the scripts" in reason


@pytest.mark.parametrize("bad", ["two\nlines", "nul\x00byte", "cr\rhere"])
def test_control_characters_in_arguments_are_rejected(agent: Agent, bad: str) -> None:
    assert _reason(agent, envelope(agent.key, command(args=["ok", bad]))).startswith(
        "unsafe argument"
    )


def test_a_hanging_script_is_killed_with_its_children_at_its_timeout(agent: Agent) -> None:
    pidfile = agent.out / "child.pid"
    write_script(agent.scripts, "hang", f"sleep 300 &\necho $! > {pidfile}\necho started\nwait\n")
    row = agent.handle(envelope(agent.key, command(script="hang", timeout=1.0)))
    assert row.status == R.TIMED_OUT
    assert row.exit_code == -1
    assert row.output == "started\n"
    child = int(pidfile.read_text())
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and _alive(child):
        time.sleep(0.05)
    assert not _alive(child), "the script's child survived the timeout"


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split()[2] != "Z"
    except FileNotFoundError:
        return False


def test_output_keeps_only_the_tail_and_a_failure_is_reported(agent: Agent) -> None:
    agent.settings = replace(
        agent.settings, remediator=replace(agent.settings.remediator, output_bytes=64)
    )
    agent.restart()
    write_script(agent.scripts, "noisy", "seq 1 5000\nexit 3\n")
    row = agent.handle(envelope(agent.key, command(script="noisy")))
    assert row.status == R.FAILED
    assert row.exit_code == 3
    assert len(row.output.encode()) <= 64
    assert row.output.endswith("4999\n5000\n")


def test_host_partition_is_the_producers_partition() -> None:
    """The agent must read exactly the partition Kafka's default partitioner writes to."""
    from aiokafka.partitioner import murmur2

    for host in ("web-1", "db-12", "한국-서버"):
        expected = (murmur2(host.encode()) & 0x7FFFFFFF) % 6
        assert host_partition(host, set(range(6))) == expected


def test_seen_ids_survive_and_expire(tmp_path: Path) -> None:
    store = SeenStore(tmp_path, time.time())
    store.add("old", time.time() - 2 * 86400)
    store.add("new", time.time() + 60)
    reopened = SeenStore(tmp_path, time.time())
    assert reopened.seen("new")
    assert not reopened.seen("old")


def test_unverified_rejections_are_bounded_and_the_drop_is_counted() -> None:
    """Anyone who can write to the commands topic must not flood the audit log."""
    budget = Budget(limit=3, period=60.0)
    rows = [R.Remediation(ts=0, status=R.REJECTED, host=HOST, reason="signature") for _ in range(6)]
    assert [budget.take(r, 10.0) for r in rows] == [True, True, True, False, False, False]
    late = R.Remediation(ts=0, status=R.REJECTED, host=HOST, reason="signature")
    assert budget.take(late, 71.0)
    assert late.reason == "signature (3 more like it dropped before this one)"


def test_an_agent_may_trust_two_keys_during_a_rotation(tmp_path: Path) -> None:
    """Old and new public key in one file: both verify, a third key does not."""
    from gamsi.remediator.keys import keygen, load_private, load_trusted

    old_private, old_public = keygen(tmp_path / "old.key")
    new_private, new_public = keygen(tmp_path / "new.key")
    both = tmp_path / "trusted.pem"
    both.write_bytes(old_public.read_bytes() + new_public.read_bytes())
    (tmp_path / "agent").mkdir()
    agent = Agent(tmp_path / "agent")
    agent.guard.trusted = load_trusted(both)
    for private in (old_private, new_private):
        row = agent.handle(envelope(load_private(private), command(script="probe")))
        assert row.status == R.OK, row.reason
    stranger = Ed25519PrivateKey.generate()
    assert agent.handle(envelope(stranger, command())).reason.startswith("signature")
