"""The history query endpoint's HTTP layer: the guard every endpoint has, on the real engine.

With ``[history] query_token`` set a query needs it and ``gamsi history query``'s
client sends it; ``/health`` stays open; a cross-site request is refused whatever
its token.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import aiohttp
import pytest

from gamsi.history.client import QueryError, remote
from gamsi.history.query_server import start_query_server
from gamsi.history.store import Reader, open_client
from gamsi.http_guard import Served
from gamsi.settings import Settings, load_settings
from tests.integration.kafka_io import free_port

TOKEN = "query-token-2e7f"


@pytest.fixture
async def endpoint(chdb_dir: Path, tmp_path: Path) -> AsyncIterator[tuple[Settings, str]]:
    secret = tmp_path / "query-token"
    secret.write_text(TOKEN + "\n")
    base = load_settings(environ={})
    history = replace(
        base.history, dsn=f"chdb://{chdb_dir}", query_port=free_port(), query_token_file=str(secret)
    )
    settings = replace(base, history=history)
    reader = Reader(open_client(settings, read_only=True))
    served: Served = await start_query_server(reader, settings)
    try:
        yield settings, f"http://127.0.0.1:{served.port}"
    finally:
        await served.cleanup()
        reader.close()


async def status_of(url: str, **kw: object) -> tuple[int, dict]:
    async with aiohttp.ClientSession() as session, session.post(url, **kw) as resp:  # type: ignore[arg-type]
        return resp.status, await resp.json()


async def test_a_query_needs_the_token_and_the_client_sends_it(
    endpoint: tuple[Settings, str],
) -> None:
    settings, base = endpoint
    status, body = await status_of(f"{base}/query", data=b"SELECT 1")
    assert status == 401
    assert "token" in body["error"]
    result = await asyncio.to_thread(remote(settings), "SELECT 1 AS one")
    assert (result.columns, result.rows) == (["one"], [[1]])
    unset = replace(settings, history=replace(settings.history, query_token_file=""))
    with pytest.raises(QueryError, match="token"):
        await asyncio.to_thread(remote(unset), "SELECT 1")
    async with aiohttp.ClientSession() as session, session.get(f"{base}/health") as resp:
        assert resp.status == 200


async def test_a_cross_site_query_is_refused_even_with_the_token(
    endpoint: tuple[Settings, str],
) -> None:
    _, base = endpoint
    headers = {"Authorization": f"Bearer {TOKEN}", "Origin": "https://evil.example"}
    status, body = await status_of(f"{base}/query", data=b"SELECT 1", headers=headers)
    assert status == 403
    assert "cross-site" in body["error"]
