"""The status page's HTTP API: the token on views and actions, cross-site refusals, escaping.

The application is served on a real loopback socket behind the real guard; the
picture is a :class:`Live` filled by hand and history is unreachable (no endpoint,
embedded DSN), which the pages must survive. No Kafka is touched: every action
tested here is refused before it would be.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from gamsi.http_guard import serve
from gamsi.settings import Settings
from gamsi.web.app import build_app, make_guard
from gamsi.web.history import HistoryAccess
from gamsi.web.live import Live

TOKEN = "web-test-token-91b7"
HOSTILE = ['<script>alert("x")</script>', "a\"b'c", "웹서버-1"]
BOUND = 10.0


def _settings(tmp_path: Path, token: str) -> Settings:
    s = Settings()
    return replace(
        s,
        paths=replace(s.paths, data_dir=str(tmp_path)),
        history=replace(s.history, query_port=0),
        web=replace(s.web, token=token, port=1),
    )


def _event(host: str, sev: int, n: int) -> dict[str, Any]:
    return {"host": host, "item": "cpu.util", "instance": "<i>", "watch": "w\"x",
            "severity": sev, "event_id": f"ev-{n}", "value": 95.0, "threshold": 90.0,
            "ts": 1000.0 + n, "since": 1000.0, "transition": "raise",
            "message": f"{host} <b>hot</b>", "tags": []}  # fmt: skip


@pytest.fixture
async def site(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[tuple[str, Live]]:
    token = getattr(request, "param", TOKEN)
    settings = _settings(tmp_path, token)
    live = Live()
    for n, host in enumerate(HOSTILE):
        live.on_event(_event(host, 4, n))
    live.ready = True
    guard = make_guard(settings)
    served = await serve(build_app(settings, live, HistoryAccess(settings), guard), guard,
                         "127.0.0.1", 0)  # fmt: skip
    try:
        yield f"http://127.0.0.1:{served.port}", live
    finally:
        live.closing.set()  # as the service does on stop
        await served.cleanup()


async def _get(url: str, **kw: Any) -> tuple[int, str, aiohttp.typedefs.LooseHeaders]:
    timeout = aiohttp.ClientTimeout(total=BOUND)
    async with (
        aiohttp.ClientSession(timeout=timeout) as s,
        s.get(url, allow_redirects=False, **kw) as r,
    ):
        return r.status, await r.text(), r.headers


async def _post(url: str, **kw: Any) -> tuple[int, str]:
    timeout = aiohttp.ClientTimeout(total=BOUND)
    async with aiohttp.ClientSession(timeout=timeout) as s, s.post(url, **kw) as r:
        return r.status, await r.text()


AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.mark.parametrize("path", ["/", "/api/cells", "/timeline", "/host/x", "/api/unregistered"])
async def test_every_view_needs_the_token(site: tuple[str, Live], path: str) -> None:
    base, _ = site
    status, body, _ = await _get(base + path)
    assert status == 401
    assert "token" in body
    status, _, _ = await _get(base + path, headers={"Authorization": "Bearer wrong"})
    assert status == 401
    status, _, _ = await _get(base + path, headers=AUTH)
    assert status not in (401, 403)


async def test_a_browser_without_the_token_is_sent_to_login_and_the_cookie_opens(
    site: tuple[str, Live],
) -> None:
    base, _ = site
    status, _, headers = await _get(base + "/", headers={"Accept": "text/html"})
    assert status == 303
    assert headers["Location"] == "/login"
    status, body, _ = await _get(base + "/login")
    assert status == 200
    assert "id=login" in body
    status, body = await _post(base + "/login", json={"token": "nope"})
    assert status == 401
    jar = aiohttp.CookieJar(unsafe=True)  # an IP address host: aiohttp's jar needs unsafe
    async with aiohttp.ClientSession(
        timeout=aiohttp.ClientTimeout(total=BOUND), cookie_jar=jar
    ) as s:
        async with s.post(base + "/login", json={"token": TOKEN}) as r:
            assert r.status == 200
            cookie = r.headers["Set-Cookie"]
            assert "HttpOnly" in cookie
            assert "SameSite=Strict" in cookie
        async with s.get(base + "/api/cells") as r:  # the session's cookie jar holds it now
            assert r.status == 200
            assert {c[0] for c in (await r.json())["cells"]} == set(HOSTILE)


@pytest.mark.parametrize("path", ["/api/ack/ev-1", "/api/register/x"])
async def test_actions_refuse_cross_site_and_non_json(site: tuple[str, Live], path: str) -> None:
    base, _ = site
    status, _ = await _post(base + path, json={})
    assert status == 401  # no token
    status, body = await _post(base + path, data="by=x", headers={
        **AUTH, "Content-Type": "application/x-www-form-urlencoded"})  # fmt: skip
    assert status == 415, body
    status, body = await _post(
        base + path, json={}, headers={**AUTH, "Origin": "http://evil.example"}
    )
    assert status == 403
    assert "cross-site" in body
    status, body = await _post(
        base + path, json={}, headers={**AUTH, "Sec-Fetch-Site": "cross-site"}
    )
    assert status == 403
    assert "cross-site" in body


@pytest.mark.parametrize("site", [""], indirect=True)
async def test_without_a_token_views_are_open_but_actions_refused(site: tuple[str, Live]) -> None:
    base, _ = site
    status, _, _ = await _get(base + "/api/cells")
    assert status == 200
    for path in ("/api/ack/ev-1", "/api/register/x"):
        status, body = await _post(base + path, json={})
        assert status == 403
        assert "[web] token" in body


async def test_field_names_are_escaped_on_every_page(site: tuple[str, Live]) -> None:
    base, _ = site
    from urllib.parse import quote

    pages = [base + "/timeline"] + [base + "/host/" + quote(h, safe="") for h in HOSTILE]
    for url in pages:
        status, body, headers = await _get(url, headers=AUTH)
        assert status == 200, (url, body[:300])
        assert "script-src 'self'" in headers["Content-Security-Policy"]
        assert "<script>alert" not in body
        assert "<b>hot</b>" not in body
        assert "<i>" not in body  # the instance name
    _, body, _ = await _get(base + "/timeline", headers=AUTH)
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in body
    assert "a&quot;b&#x27;c" in body
    assert "웹서버-1" in body
    assert 'href="/host/%3Cscript%3Ealert%28%22x%22%29%3C%2Fscript%3E"' in body
    _, body, _ = await _get(base + "/api/cells", headers=AUTH)
    assert "웹서버-1" in body.encode().decode("utf-8")


async def test_live_changes_stream_after_the_snapshot(site: tuple[str, Live]) -> None:
    base, live = site
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=BOUND)) as s:
        async with s.get(base + "/api/cells", headers=AUTH) as r:
            seq = (await r.json())["seq"]
        async with s.get(f"{base}/api/stream?after={seq}", headers=AUTH) as r:
            assert r.headers["Content-Type"].startswith("text/event-stream")
            live.on_event({**_event("web-9", 0, 9), "ts": 5000.0})
            lines = []
            async with asyncio.timeout(BOUND):
                while not any(x.startswith("data: [") for x in lines):
                    lines.append((await r.content.readline()).decode().strip())
    data = next(x for x in lines if x.startswith("data: ["))
    assert '"web-9"' in data
    assert f"id: {seq + 1}" in lines


async def test_health_says_ready_only_once_the_picture_is_built(site: tuple[str, Live]) -> None:
    base, live = site
    live.ready = False
    status, body, _ = await _get(base + "/health")  # no token: a health check is public
    assert status == 503
    assert "rebuilding" in body
    status, _, _ = await _get(base + "/api/cells", headers=AUTH)
    assert status == 503
    live.ready = True
    status, body, _ = await _get(base + "/health")
    assert status == 200
    assert '"ok"' in body
