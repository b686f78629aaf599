"""Where the query endpoint's queries run: their own bounded pool, cancelled on shutdown.

Queries never run in the event loop's default executor, which the writer's inserts and
aiokafka's name lookups use: eight slow queries there once stopped ingestion. Here one
thread runs them (a chDB client handle serves one query at a time), at most
``waiting`` more wait for it, and the next caller is told :class:`Busy` at once. Each
statement carries a marker comment so that a query still running when the caller gives
up or the service stops is killed in the engine (``KILL QUERY``), not left to finish.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from gamsi.history.store import QUERY_SECONDS, Reader

log = logging.getLogger(__name__)

WAITING = 4
GRACE = 5.0
MARKER = "gamsi-query"


class Busy(RuntimeError):
    """Too many queries are running or waiting, or the service is stopping."""


def kill_statement(query_id: str) -> str:
    """The ``KILL QUERY`` that stops the query marked with ``query_id`` (hex, ours)."""
    return f"KILL QUERY WHERE query LIKE '%/* {MARKER} {query_id} */%' ASYNC"


class QueryPool:
    """Runs checked statements on ``reader`` in a pool of its own.

    ``kill(sql)`` runs a statement on a client that may kill queries (the writer's); it
    is optional (no kill: a given-up query runs to ``max_execution_time``). ``seconds``
    bounds the wait for one query (the engine's own bound plus a grace)."""

    def __init__(
        self,
        reader: Reader,
        kill: Callable[[str], object] | None = None,
        *,
        waiting: int = WAITING,
        seconds: float = QUERY_SECONDS + GRACE,
    ) -> None:
        self.reader = reader
        self._kill = kill
        self._limit = 1 + waiting
        self._seconds = seconds
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="gamsi-query")
        self._pending: dict[str, Future[Any]] = {}
        self._closed = False

    async def run(self, statement: str, call: Callable[[str], Any] | None = None) -> Any:
        """The result of ``statement`` (already checked by gamsi.history.readonly): a
        :class:`QueryResult`, or what ``call(sql)`` returns when given (the ClickHouse
        HTTP interface reads raw bytes in a format, :meth:`Reader.raw`).

        Raises :class:`Busy` when full or stopping, TimeoutError past the bound, and the
        engine's own exception when it refuses the query."""
        if self._closed:
            raise Busy("the history service is stopping")
        if len(self._pending) >= self._limit:
            raise Busy(f"{len(self._pending)} queries running or waiting; try again shortly")
        query_id = uuid.uuid4().hex
        sql = f"/* {MARKER} {query_id} */ {statement}"
        future = self._executor.submit(call or self.reader, sql)
        self._pending[query_id] = future
        try:
            return await asyncio.wait_for(
                asyncio.shield(asyncio.wrap_future(future)), self._seconds
            )
        except TimeoutError:
            await self._stop(query_id, future)
            raise TimeoutError(f"the query took longer than {self._seconds:.0f} s") from None
        except asyncio.CancelledError:
            if future.cancelled() and self._closed:  # close() cancelled it while waiting
                raise Busy("the history service is stopping") from None
            await self._stop(query_id, future)
            raise
        finally:
            self._pending.pop(query_id, None)

    async def _stop(self, query_id: str, future: Future[Any]) -> None:
        if future.done() or future.cancel() or self._kill is None:  # not started: cancelled
            return
        try:
            await asyncio.to_thread(self._kill, kill_statement(query_id))
        except Exception as exc:  # the query ends at max_execution_time anyway
            log.warning("could not kill query %s: %s", query_id, exc)
        with contextlib.suppress(Exception, asyncio.CancelledError):
            await asyncio.wait_for(asyncio.wrap_future(future), GRACE)

    async def close(self) -> None:
        """Refuse new queries, cancel the waiting ones, kill the running one."""
        self._closed = True
        pending = list(self._pending.items())
        await asyncio.gather(*(self._stop(qid, f) for qid, f in pending))
        self._executor.shutdown(wait=False, cancel_futures=True)


__all__ = ["Busy", "QueryPool", "kill_statement"]
