"""`gamsi up`'s restart policy on real (tiny) processes: a configuration error is fatal
before ready, a crash loop is DOWN, Kafka unreachable is not a crash; the lock."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

from gamsi import up_children
from gamsi.cli import UserError
from gamsi.instance_lock import take_lock
from gamsi.up_children import Child, run_child


def _child(
    tmp_path: Path, code: int, line: str = "gamsi: error: x.toml: [a] b: expected c"
) -> Child:
    script = f"import sys; print({line!r}); sys.exit({code})"
    log = tmp_path / "svc.log"
    return Child("svc", [sys.executable, "-c", script], log, log.open("ab"))


async def _run(child: Child, ready: bool, until: float = 20.0) -> asyncio.Event:
    stop, fatal, all_ready = asyncio.Event(), asyncio.Event(), asyncio.Event()
    if ready:
        all_ready.set()
    task = asyncio.create_task(run_child(child, stop, fatal, all_ready, echo=False))
    try:
        async with asyncio.timeout(until):
            while not (task.done() or child.down):  # noqa: ASYNC110 (a child, not an event)
                await asyncio.sleep(0.02)
    finally:
        stop.set()
        await task
        child.log.close()
    return fatal


@pytest.fixture(autouse=True)
def _fast(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(up_children, "FIRST_BACKOFF", 0.01)


@pytest.mark.parametrize("code", [78, 2])
async def test_a_configuration_error_before_ready_is_fatal_and_not_restarted(
    tmp_path: Path, code: int, capsys: pytest.CaptureFixture[str]
) -> None:
    child = _child(tmp_path, code)
    fatal = await _run(child, ready=False)
    assert fatal.is_set()
    assert child.fatal == "gamsi: error: x.toml: [a] b: expected c"
    assert child.restarts == 0
    assert "restarting" not in capsys.readouterr().err


async def test_a_configuration_error_after_ready_is_down_not_a_loop(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    child = _child(tmp_path, 78)
    fatal = await _run(child, ready=True)
    assert not fatal.is_set()
    assert child.down
    assert child.restarts == 0
    assert "DOWN: svc refused to start (exit code 78): gamsi: error: x.toml" in (
        capsys.readouterr().err
    )


async def test_a_crash_loop_is_reported_down_loudly(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    child = _child(tmp_path, 1, "Traceback: boom")
    await _run(child, ready=True)
    assert child.down
    assert child.restarts == up_children.CRASH_LIMIT
    err = capsys.readouterr().err
    assert err.count("svc exited with code 1; restarting") == up_children.CRASH_LIMIT - 1
    assert f"DOWN: svc crashed {up_children.CRASH_LIMIT} times" in err
    assert "Traceback: boom" in err  # its last words, so nobody has to open the log first


async def test_kafka_unreachable_is_restarted_quietly_not_counted_as_a_crash(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    child = _child(tmp_path, 75, "gamsi: cannot reach Kafka")
    stop, fatal, all_ready = asyncio.Event(), asyncio.Event(), asyncio.Event()
    task = asyncio.create_task(run_child(child, stop, fatal, all_ready, echo=False))
    async with asyncio.timeout(30):
        while child.log_path.read_text().count("cannot reach") < 4:  # noqa: ASYNC110 (a file)
            await asyncio.sleep(0.05)
    stop.set()
    await task
    child.log.close()
    assert child.restarts == 0
    assert not child.down
    assert not fatal.is_set()
    err = capsys.readouterr().err
    assert err.count("Kafka unreachable") == 1  # one line a minute, not one per restart


def test_the_lock_refuses_a_second_holder_and_is_free_once_released(tmp_path: Path) -> None:
    first = take_lock(tmp_path)
    with pytest.raises(UserError, match=r"Gamsi is already running \(pid \d+\)"):
        take_lock(tmp_path)
    first.close()  # what the kernel does when the holder dies
    take_lock(tmp_path).close()
