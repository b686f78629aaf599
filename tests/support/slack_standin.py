"""A local stand-in of the Slack Web API, for slack-sdk clients given its ``base_url``.

It answers ``chat.postMessage``, ``chat.update``, ``conversations.history``,
``conversations.replies`` and ``auth.test`` like Slack does (JSON, ``ok``,
``ts``, message metadata) and records every request. It can be told to answer
HTTP 429 with ``Retry-After`` for the next N calls, and to check a bot token.

Use it as an async context manager or through the ``slack_standin`` fixture::

    async with SlackStandIn(token="xoxb-test") as slack:
        client = AsyncWebClient(token="xoxb-test", base_url=slack.base_url)
        ...
        assert slack.posted[0]["text"] ...
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web

from tests.support.http_capture import serve


@dataclass
class SlackRequest:
    method: str
    body: dict[str, Any]
    authorization: str
    status: int
    at: float = field(default_factory=time.time)
    peer: Any = None  # the client's (address, port): equal for requests on one connection


class SlackStandIn:
    def __init__(self, token: str | None = None) -> None:
        self.token = token
        self.requests: list[SlackRequest] = []
        self.messages: list[dict[str, Any]] = []
        self._throttle: list[float] = []
        self._fail: list[tuple[int, str]] = []
        self._ts = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self.base_url = ""
        self.changed = asyncio.Event()
        self.delay = 0.0
        """Seconds every call waits *after* it was recorded, before the answer: a slow Slack,
        so that a client killed mid-request leaves a message Slack has but the client never
        heard about."""

    # -- control ------------------------------------------------------------------

    def rate_limit(self, times: int, retry_after: float = 1) -> None:
        """Answer the next ``times`` calls with HTTP 429 and ``Retry-After``."""
        self._throttle.extend([retry_after] * times)

    def fail(self, status: int, error: str = "fatal_error", times: int = 1) -> None:
        """Answer the next ``times`` calls with this status and Slack error code."""
        self._fail.extend([(status, error)] * times)

    @property
    def posted(self) -> list[dict[str, Any]]:
        """Bodies of chat.postMessage calls that Slack accepted, in order."""
        return [r.body for r in self.requests if r.method == "chat.postMessage" and r.status == 200]

    async def wait_for(self, predicate: Any, within: float = 30.0) -> None:
        """Wait until ``predicate(self)`` holds, at most ``within`` seconds."""
        deadline = time.monotonic() + within
        while not predicate(self):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"stand-in condition not met; {len(self.posted)} posted")
            self.changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.changed.wait(), min(remaining, 0.5))

    # -- server -------------------------------------------------------------------

    async def __aenter__(self) -> SlackStandIn:
        self._runner, port = await serve("/api/{method}", self._handle)
        self.base_url = f"http://127.0.0.1:{port}/api/"
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        body: dict[str, Any] = dict(request.query)
        if request.can_read_body:
            if request.content_type == "application/json":
                body.update(await request.json())
            else:
                body.update(dict(await request.post()))
        auth = request.headers.get("Authorization", "")
        status, payload, headers = self._answer(method, body, auth)
        peer = request.transport.get_extra_info("peername") if request.transport else None
        self.requests.append(SlackRequest(method, body, auth, status, peer=peer))
        self.changed.set()
        if self.delay:
            await asyncio.sleep(self.delay)
        return web.json_response(payload, status=status, headers=headers)

    def _answer(
        self, method: str, body: dict[str, Any], auth: str
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        if self._throttle:
            retry_after = self._throttle.pop(0)
            return 429, {"ok": False, "error": "ratelimited"}, {"Retry-After": f"{retry_after:g}"}
        if self._fail:
            status, error = self._fail.pop(0)
            return status, {"ok": False, "error": error}, {}
        if self.token is not None and auth != f"Bearer {self.token}":
            return 200, {"ok": False, "error": "invalid_auth"}, {}
        if method == "auth.test":
            return 200, {"ok": True, "user_id": "UGAMSI", "team": "standin"}, {}
        if method == "chat.postMessage":
            if not body.get("channel"):
                return 200, {"ok": False, "error": "channel_not_found"}, {}
            ts = f"{int(time.time())}.{next(self._ts):06d}"
            message = {**body, "ts": ts, "type": "message"}
            self.messages.append(message)
            return 200, {"ok": True, "channel": body["channel"], "ts": ts, "message": message}, {}
        if method == "chat.update":
            for message in self.messages:
                if message["ts"] == body.get("ts"):
                    message.update({k: v for k, v in body.items() if k != "ts"})
                    return 200, {"ok": True, "channel": body.get("channel"), "ts": body["ts"]}, {}
            return 200, {"ok": False, "error": "message_not_found"}, {}
        if method in {"conversations.history", "conversations.replies"}:
            return 200, {"ok": True, "messages": self._history(method, body), "has_more": False}, {}
        return 404, {"ok": False, "error": "unknown_method"}, {}

    def _history(self, method: str, body: dict[str, Any]) -> list[dict[str, Any]]:
        channel = body.get("channel")
        with_meta = str(body.get("include_all_metadata", "")).lower() in {"1", "true"}
        out = []
        for m in reversed(self.messages):
            if m.get("channel") != channel:
                continue
            if method == "conversations.replies":
                if m.get("thread_ts") != body.get("ts") and m["ts"] != body.get("ts"):
                    continue
            elif m.get("thread_ts"):
                continue
            out.append(m if with_meta else {k: v for k, v in m.items() if k != "metadata"})
        return out


@pytest.fixture
async def slack_standin() -> AsyncIterator[SlackStandIn]:
    async with SlackStandIn() as standin:
        yield standin
