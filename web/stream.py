"""The overview's live updates as server-sent events (the WHATWG HTML "server-sent events").

One stream per open page: after the ``retry`` hint, each changed cell is an
``event: cell`` whose ``id`` is the change's sequence number (EventSource sends the
last one back as ``Last-Event-ID`` when it reconnects) and whose data is the cell row
of :func:`gamsi.web.live.cell_row`; ``event: host`` carries a server's new OS and tags
(``{"host", "os", "tags"}``); ``event: reset`` tells the page to load the whole
picture again, and ends the stream. A comment every :data:`KEEP_ALIVE` seconds keeps
proxies from closing a quiet stream.
"""

from __future__ import annotations

import asyncio

import orjson
from aiohttp import web

from gamsi.web.live import RESET, Live

KEEP_ALIVE = 15.0
"""Seconds between comments on an idle stream."""
HEADERS = {"Content-Type": "text/event-stream", "Cache-Control": "no-store",
           "X-Accel-Buffering": "no"}  # fmt: skip


async def send_changes(request: web.Request, live: Live, after: int) -> web.StreamResponse:
    """Stream the changes after sequence ``after`` until the client leaves, a reset, or
    ``live.closing``. aiohttp does not cancel a handler whose client left, so the
    connection is looked at every second: a closed page frees its slot at once and a
    stopping service is not held up."""
    response = web.StreamResponse(headers=HEADERS)
    await response.prepare(request)
    queue = live.subscribe(after)
    try:
        await response.write(b"retry: 1000\n\n")
        quiet = 0.0
        while not live.closing.is_set():
            try:
                seq, row = await asyncio.wait_for(queue.get(), 1.0)
            except TimeoutError:
                transport = request.transport
                if transport is None or transport.is_closing():
                    break
                quiet += 1.0
                if quiet >= KEEP_ALIVE:
                    await response.write(b": keep-alive\n\n")
                    quiet = 0.0
                continue
            if row == RESET:
                await response.write(b"event: reset\ndata: {}\n\n")
                break
            kind = b"host" if isinstance(row, dict) else b"cell"
            data = orjson.dumps(row)
            await response.write(b"id: %d\nevent: %s\ndata: %s\n\n" % (seq, kind, data))
    except ConnectionResetError:
        pass  # the page went away mid-write
    finally:
        live.unsubscribe(queue)
    return response


__all__ = ["KEEP_ALIVE", "send_changes"]
