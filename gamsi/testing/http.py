"""A local HTTP server that records requests and answers what it is told (127.0.0.1 only).

Stands in for a SaaS endpoint (webhook, SMS and KakaoTalk gateways, ntfy) in
tests: ``respond(status, body, headers)`` queues answers (default ``200 {}``),
``requests`` holds what arrived. Nothing ever leaves the machine.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web


@dataclass
class CapturedRequest:
    """One request as it arrived: method, path, query, headers, the raw body, the peer and
    the time."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    peer: Any = None
    """The client's (address, port): the same for requests on one kept-alive connection."""
    at: float = field(default_factory=time.time)
    """When it arrived (s since epoch)."""

    def json(self) -> Any:
        """The body decoded as JSON."""
        return orjson.loads(self.body)


class HttpCapture:
    """``async with HttpCapture() as server:`` serves at ``server.url`` until the block ends."""

    def __init__(self) -> None:
        self.requests: list[CapturedRequest] = []
        self._answers: list[tuple[int, Any, dict[str, str]]] = []
        self._runner: web.AppRunner | None = None
        self.url = ""

    def respond(self, status: int, body: Any = None, headers: dict[str, str] | None = None) -> None:
        """Queue the answer to the next request: a status, a JSON body and headers."""
        self._answers.append((status, {} if body is None else body, headers or {}))

    async def __aenter__(self) -> HttpCapture:
        self._runner, port = await serve("/{tail:.*}", self._handle)
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _handle(self, request: web.Request) -> web.Response:
        self.requests.append(
            CapturedRequest(
                request.method,
                request.path,
                dict(request.query),
                dict(request.headers),
                await request.read(),
                request.transport.get_extra_info("peername") if request.transport else None,
            )
        )
        status, body, headers = self._answers.pop(0) if self._answers else (200, {}, {})
        return web.json_response(body, status=status, headers=headers)


async def serve(path: str, handler: Any) -> tuple[web.AppRunner, int]:
    """Serve ``handler`` for every method on ``path`` at 127.0.0.1 on a free port.

    Returns the runner (``await runner.cleanup()`` stops it) and the port.
    """
    app = web.Application()
    app.router.add_route("*", path, handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
