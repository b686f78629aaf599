"""History against a ClickHouse server that accepts connections and never answers
(issue 10 section 6): bounded timeouts, a log line, retries with backoff, and a stop
that is honoured — instead of 300 silent seconds and an exit."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Iterator
from dataclasses import replace

import pytest

from gamsi.history import store
from gamsi.history.service import run_history
from gamsi.settings import Settings

WAIT = 60.0


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A loopback port whose listener accepts connections (the kernel's backlog) and
    never reads or answers."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        yield listener.getsockname()[1]


async def test_a_silent_server_is_logged_and_retried_until_stop(
    settings: Settings,
    silent_server: int,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setattr(store, "READ_TIMEOUT", 1)
    monkeypatch.setattr(store, "CONNECT_TIMEOUT", 1)
    dsn = f"http://gamsi:secret-pw@127.0.0.1:{silent_server}/gamsi"
    hs = replace(settings, history=replace(settings.history, dsn=dsn, query_port=0))
    stop = asyncio.Event()
    caplog.set_level(logging.WARNING, logger="gamsi.history.service")
    service = asyncio.create_task(run_history(hs, stop))

    def retries() -> list[str]:
        return [r.getMessage() for r in caplog.records if "store not ready" in r.getMessage()]

    deadline = asyncio.get_running_loop().time() + WAIT
    while len(retries()) < 2 and not service.done():
        assert asyncio.get_running_loop().time() < deadline, "no retry logged"
        await asyncio.sleep(0.1)
    assert not service.done(), "the service gave up instead of retrying"
    stop.set()
    await asyncio.wait_for(service, WAIT)  # returns, no exception
    first, second = retries()[:2]
    assert "retrying in 1 s" in first
    assert "retrying in 2 s" in second
    assert "secret-pw" not in first
