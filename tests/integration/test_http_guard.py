"""The HTTP guard every Gamsi endpoint is served behind, on real loopback sockets.

Tokens, JSON-only state changes, cross-site and foreign-Host refusals, head/idle
timeouts, the connection cap, bounded request time and one log line per kind of
failure. Every wait is bounded; no assertion is about how long something took.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from gamsi.http_config import HttpSettings
from gamsi.http_guard import (
    Guard,
    Served,
    changes_state,
    guarded_app,
    json_body,
    json_response,
    public,
    serve,
)

TOKEN = "guard-test-token-5f2c"
BOUND = 10.0  # seconds any single wait may take before the test fails


@changes_state
async def act(request: web.Request) -> web.Response:
    return json_response({"got": await json_body(request, empty={})})


async def view(request: web.Request) -> web.Response:
    return json_response({"view": True})


@public
async def health(request: web.Request) -> web.Response:
    return json_response({"status": "ok"})


async def boom(request: web.Request) -> web.Response:
    raise RuntimeError("a bug in a handler")


async def slow(request: web.Request) -> web.Response:
    await asyncio.sleep(60)
    return json_response({})


async def start(token: str = "", **limits: Any) -> tuple[Served, Guard]:
    guard = Guard("test API", token, "[test] token", HttpSettings(**limits))
    app = guarded_app(guard, client_max_size=1024)
    app.router.add_post("/act", act)
    app.router.add_get("/view", view)
    app.router.add_get("/health", health)
    app.router.add_get("/boom", boom)
    app.router.add_get("/slow", slow)
    return await serve(app, guard, "127.0.0.1", 0), guard


@pytest.fixture
async def api() -> AsyncIterator[tuple[str, aiohttp.ClientSession]]:
    served, _ = await start(TOKEN)
    try:
        async with aiohttp.ClientSession() as session:
            yield f"http://127.0.0.1:{served.port}", session
    finally:
        await served.cleanup()


JSON = {"Content-Type": "application/json"}
AUTH = {"Authorization": f"Bearer {TOKEN}"}


async def call(
    session: aiohttp.ClientSession, method: str, url: str, **kw: Any
) -> tuple[int, dict[str, Any]]:
    async with session.request(method, url, **kw) as resp:
        return resp.status, await resp.json()


async def test_state_change_needs_the_configured_token(api: Any) -> None:
    base, session = api
    status, body = await call(session, "POST", f"{base}/act", headers=JSON, data=b"{}")
    assert status == 401
    assert "token" in body["error"]
    wrong = {**JSON, "Authorization": "Bearer not-it"}
    assert (await call(session, "POST", f"{base}/act", headers=wrong, data=b"{}"))[0] == 401
    status, body = await call(
        session, "POST", f"{base}/act", headers={**JSON, **AUTH}, data=b'{"a": 1}'
    )
    assert (status, body) == (200, {"got": {"a": 1}})
    cookie = {**JSON, "Cookie": f"gamsi_token={TOKEN}"}
    assert (await call(session, "POST", f"{base}/act", headers=cookie))[0] == 200
    assert TOKEN not in str(await call(session, "POST", f"{base}/act", headers=wrong))


async def test_state_change_is_refused_when_no_token_is_configured() -> None:
    served, _ = await start("")
    try:
        async with aiohttp.ClientSession() as session:
            base = f"http://127.0.0.1:{served.port}"
            status, body = await call(session, "POST", f"{base}/act", headers=JSON, data=b"{}")
            assert status == 403
            assert "[test] token" in body["error"]
            assert (await call(session, "GET", f"{base}/view"))[0] == 200  # reads stay open
    finally:
        await served.cleanup()


async def test_reads_need_the_token_when_one_is_configured(api: Any) -> None:
    base, session = api
    assert (await call(session, "GET", f"{base}/view"))[0] == 401
    assert (await call(session, "GET", f"{base}/view", headers=AUTH))[0] == 200
    assert (await call(session, "GET", f"{base}/health"))[0] == 200  # public


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data", ""]
)
async def test_state_change_refuses_a_body_that_is_not_json(api: Any, content_type: str) -> None:
    base, session = api
    headers = {**AUTH, "Content-Type": content_type} if content_type else AUTH
    status, body = await call(session, "POST", f"{base}/act", headers=headers, data=b"by=x")
    assert status == 415
    assert "application/json" in body["error"]


async def test_json_with_a_charset_is_accepted(api: Any) -> None:
    base, session = api
    headers = {**AUTH, "Content-Type": "application/json; charset=utf-8"}
    assert (await call(session, "POST", f"{base}/act", headers=headers, data=b"{}"))[0] == 200


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "http://evil.example"},
        {"Origin": "null"},
        {"Origin": "http://127.0.0.1:1"},  # same host, another port: another origin
        {"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "cors"},
    ],
)
async def test_cross_site_requests_are_refused(api: Any, headers: dict[str, str]) -> None:
    base, session = api
    all_headers = {**JSON, **AUTH, **headers}
    status, body = await call(session, "POST", f"{base}/act", headers=all_headers, data=b"{}")
    assert status == 403
    assert "cross-site" in body["error"]


async def test_same_origin_and_navigation_are_allowed(api: Any) -> None:
    base, session = api
    same = {**JSON, **AUTH, "Origin": base, "Sec-Fetch-Site": "same-origin"}
    assert (await call(session, "POST", f"{base}/act", headers=same, data=b"{}"))[0] == 200
    link = {**AUTH, "Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate"}
    assert (await call(session, "GET", f"{base}/view", headers=link))[0] == 200


async def test_a_foreign_host_name_is_refused_unless_allowed() -> None:
    served, _ = await start("", allowed_hosts=["gamsi.example"])
    try:
        async with aiohttp.ClientSession() as session:
            base = f"http://127.0.0.1:{served.port}"
            rebound = {"Host": f"attacker.example:{served.port}"}
            status, body = await call(session, "GET", f"{base}/view", headers=rebound)
            assert status == 403
            assert "allowed_hosts" in body["error"]
            proxied = {"Host": "gamsi.example"}
            assert (await call(session, "GET", f"{base}/view", headers=proxied))[0] == 200
    finally:
        await served.cleanup()


async def closed_by_server(reader: asyncio.StreamReader) -> bytes:
    """Everything the server sends until it closes the connection (bounded)."""
    return await asyncio.wait_for(reader.read(), BOUND)


async def test_a_silent_connection_is_closed_after_the_head_timeout() -> None:
    served, guard = await start(TOKEN, header_timeout=0.2)
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", served.port)
        assert await closed_by_server(reader) == b""
        writer.close()
        await writer.wait_closed()
    finally:
        await served.cleanup()
    assert guard.connections.open == 0


async def test_a_slow_request_head_is_closed() -> None:
    served, _ = await start(TOKEN, header_timeout=0.3)
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", served.port)
        head = b"GET /view HTTP/1.1\r\nHost: 127.0.0.1\r\n" + b"X-Slow: y\r\n" * 1000
        closed = False
        for byte in head:  # one byte every 20 ms: never a complete head in time
            writer.write(bytes([byte]))
            try:
                await writer.drain()
                closed = await asyncio.wait_for(reader.read(1), 0.02) == b""
            except TimeoutError:
                continue
            except ConnectionError:
                closed = True
            if closed:
                break
        assert closed
        writer.close()
    finally:
        await served.cleanup()


async def test_an_idle_keep_alive_connection_is_closed() -> None:
    served, _ = await start("", idle_timeout=0.3, header_timeout=30)
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", served.port)
        writer.write(b"GET /view HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: keep-alive\r\n\r\n")
        answer = await closed_by_server(reader)  # the response, then the close
        assert answer.startswith(b"HTTP/1.1 200")
        writer.close()
    finally:
        await served.cleanup()


async def wait_until(predicate: Any) -> None:
    for _ in range(int(BOUND / 0.02)):
        if predicate():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("condition not reached")


async def test_the_connection_cap_is_honoured() -> None:
    served, guard = await start("", max_connections=3, header_timeout=60)
    conns = []
    try:
        for _ in range(3):
            conns.append(await asyncio.open_connection("127.0.0.1", served.port))
        await wait_until(lambda: guard.connections.open == 3)
        reader, writer = await asyncio.open_connection("127.0.0.1", served.port)
        refused = await closed_by_server(reader)
        writer.close()
        assert refused.startswith(b"HTTP/1.1 503")
        assert b"too many connections" in refused
        assert guard.connections.refused == 1
        _, first = conns.pop(0)
        first.close()
        await wait_until(lambda: guard.connections.open == 2)
        async with aiohttp.ClientSession() as session:
            assert (await call(session, "GET", f"http://127.0.0.1:{served.port}/view"))[0] == 200
    finally:
        for _, w in conns:
            w.close()
        await served.cleanup()


async def test_handler_errors_are_json_and_logged_once_per_kind(
    api: Any, caplog: pytest.LogCaptureFixture
) -> None:
    base, session = api
    caplog.set_level(logging.INFO, logger="gamsi.http")
    for _ in range(30):
        status, body = await call(session, "GET", f"{base}/boom", headers=AUTH)
        assert status == 500
        assert "internal error" in body["error"]
    tracebacks = [r for r in caplog.records if r.exc_info]
    assert len(tracebacks) == 1
    for _ in range(30):  # refusals too: one line per kind per period, not one per request
        await call(session, "GET", f"{base}/view")
    refusals = [r for r in caplog.records if "refused" in r.getMessage()]
    assert len(refusals) == 1


async def test_a_request_is_bounded_in_time_and_size() -> None:
    served, _ = await start("", request_timeout=0.2)
    try:
        async with aiohttp.ClientSession() as session:
            base = f"http://127.0.0.1:{served.port}"
            status, body = await call(session, "GET", f"{base}/slow")
            assert status == 408
            assert "request_timeout" in body["error"]
            status, body = await call(session, "GET", f"{base}/nowhere")
            assert status == 404
            assert body["error"]
    finally:
        await served.cleanup()
    served, _ = await start(TOKEN)
    try:
        async with aiohttp.ClientSession() as session:
            url = f"http://127.0.0.1:{served.port}/act"
            status, body = await call(
                session, "POST", url, headers={**JSON, **AUTH}, data=b"[" + b"1," * 5000 + b"1]"
            )
            assert status == 413
            assert body["error"]
    finally:
        await served.cleanup()
