"""One-line errors (issue 13 item 2): every command that needs Kafka, pointed at a port
where no broker listens, says so in one line and exits non-zero — no traceback, no
"Unclosed AIOKafka..." — and the services wait for it quietly instead of crashing."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest

from gamsi.settings import Settings
from tests.integration.kafka_io import CPU_SPIKE_POLICY, free_port
from tests.integration.up_support import env_of, run_gamsi, up_settings, wait_for_text

ONE_SHOT = [
    ["kafka", "topics"],
    ["events", "tail"],
    ["ack", "--list"],
    ["ack", "0123abcd"],
    ["ack", "--undo", "0123abcd"],
    ["status"],
    ["remediate", "log"],
    ["remediate", "run", "--host", "web-1", "--script", "restart-nginx"],
    ["policy", "apply", CPU_SPIKE_POLICY],
    ["silence", "list"],
]
SERVICES = ["notifier", "history", "remediator", "web", "streams"]
OBSERVE = 5.0
"""Seconds the waiting services are watched for extra lines."""


def _nowhere(settings: Settings, tmp_path: Path) -> Settings:
    s = up_settings(settings, tmp_path)
    return replace(s, kafka=replace(s.kafka, bootstrap=f"127.0.0.1:{free_port()}"))


_run = run_gamsi


@pytest.mark.parametrize("argv", ONE_SHOT, ids=" ".join)
def test_a_command_that_cannot_reach_kafka_says_so_in_one_line(
    argv: list[str], settings: Settings, tmp_path: Path
) -> None:
    s = _nowhere(settings, tmp_path)
    if argv[0] == "remediate":  # the signing key exists, so Kafka is what fails
        assert _run(s, tmp_path, "remediator", "keygen").returncode == 0
    done = _run(s, tmp_path, *argv)
    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert f"cannot reach Kafka at {s.kafka.bootstrap} — is gamsi up running?" in lines[0]
    assert "Unclosed" not in done.stdout + done.stderr


def test_verbose_adds_the_traceback(settings: Settings, tmp_path: Path) -> None:
    s = _nowhere(settings, tmp_path)
    done = _run(s, tmp_path, "events", "tail", "-v")
    assert done.returncode == 75
    assert "Traceback" in done.stderr
    assert "KafkaConnectionError" in done.stderr
    assert done.stderr.strip().splitlines()[-1].startswith("gamsi: cannot reach Kafka at")


def test_kafka_status_reports_the_configured_bootstrap(settings: Settings, tmp_path: Path) -> None:
    s = _nowhere(settings, tmp_path)
    down = _run(s, tmp_path, "kafka", "status")
    assert down.returncode == 3
    assert down.stdout == f"Kafka at {s.kafka.bootstrap}: not answering\n"
    up = _run(settings, tmp_path, "kafka", "status")  # the test broker, not a local one
    assert up.returncode == 0
    assert up.stdout == f"Kafka at {settings.kafka.bootstrap}: answering\n"


def test_services_wait_for_kafka_quietly_and_stop_when_told(
    settings: Settings, tmp_path: Path
) -> None:
    """Decided: a service started before the broker waits (capped backoff), logging one
    line a minute, and stops cleanly on SIGTERM — so units may start in any order."""
    s = _nowhere(settings, tmp_path)
    procs = {}
    for name in SERVICES:
        log = tmp_path / f"{name}.log"
        with log.open("ab") as out:
            procs[name] = subprocess.Popen(
                [sys.executable, "-m", "gamsi", name, "run"],
                env=env_of(s),
                cwd=tmp_path,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
    try:
        for name, proc in procs.items():
            wait_for_text(tmp_path / f"{name}.log", "waiting for Kafka", 90, proc)
        # An observation window, not a wait for something: retries 1, 2 and 4 s apart
        # happen within it, and each would have written aiokafka's error line before.
        time.sleep(OBSERVE)
        for proc in procs.values():
            proc.send_signal(signal.SIGTERM)
        for name, proc in procs.items():
            code = proc.wait(timeout=60)
            body = (tmp_path / f"{name}.log").read_text()
            assert code in (0, -signal.SIGTERM), f"{name}: {code}\n{body}"
            lines = body.strip().splitlines()
            assert len(lines) == 1, f"{name} wrote more than one line:\n{body}"
            assert f"{name}: waiting for Kafka at {s.kafka.bootstrap}" in lines[0]
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait()
