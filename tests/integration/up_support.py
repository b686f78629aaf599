"""Running `gamsi up` as a real process in a test: its environment, its output, bounded waits."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

from gamsi.settings import Settings, to_environ
from tests.integration.kafka_io import free_port


def up_settings(settings: Settings, tmp_path: Path) -> Settings:
    """The test's settings with free ports for every endpoint and a data dir of its own."""
    return replace(
        settings,
        paths=replace(settings.paths, data_dir=str(tmp_path / "data")),
        notifier=replace(settings.notifier, ack_port=free_port()),
        history=replace(settings.history, query_port=free_port(), dsn=""),
        web=replace(settings.web, port=free_port()),
    )


def env_of(settings: Settings, **extra: str) -> dict[str, str]:
    env = {**os.environ, **to_environ(settings), **extra}
    env.pop("GAMSI_CONFIG", None)
    return env


def run_gamsi(settings: Settings, cwd: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    """`python -m gamsi ARGV` to completion in ``cwd`` (no ./gamsi.toml), text output."""
    return subprocess.run(
        [sys.executable, "-m", "gamsi", *argv],
        env=env_of(settings),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@contextmanager
def gamsi_up(
    settings: Settings, *args: str, log: Path, cwd: Path, **extra: str
) -> Iterator[subprocess.Popen[bytes]]:
    """`gamsi up ARGS` in its own process group (output to ``log``); on exit SIGINT as
    Ctrl-C would, then SIGKILL to the whole group if it lingers."""
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "gamsi", "up", "--quiet", *args],
            env=env_of(settings, **extra),
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=cwd,
            start_new_session=True,
        )
    try:
        yield proc
    finally:
        _interrupt(proc)


def _interrupt(proc: subprocess.Popen[bytes]) -> None:
    """Ctrl-C for a process still running; its whole group killed if it lingers 60 s."""
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGINT)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=60)
        return
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def wait_for_text(
    log: Path, text: str, within: float, proc: subprocess.Popen[bytes] | None = None
) -> str:
    """Poll ``log`` until it contains ``text``; returns the log. Fails after ``within``
    seconds, or at once when ``proc`` has exited without writing it."""
    deadline = time.monotonic() + within
    while True:
        body = log.read_text(errors="replace") if log.exists() else ""
        if text in body:
            return body
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"exited with {proc.returncode} before {text!r}:\n{body[-3000:]}")
        if time.monotonic() > deadline:
            raise AssertionError(f"{text!r} not within {within} s:\n{body[-3000:]}")
        time.sleep(0.2)
