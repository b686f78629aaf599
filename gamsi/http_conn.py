"""Connection-level bounds for Gamsi's HTTP endpoints: a connection cap and head/idle timeouts.

aiohttp's server has no cap on open connections and, before its first response, no
timeout of its own shorter than its keep-alive (an hour by default): 1,100 idle
connections to the ack API were kept until the process ran out of file
descriptors. :class:`GuardedConnection` wraps aiohttp's per-connection protocol
and adds, as nginx does with ``client_header_timeout``, ``keepalive_timeout`` and
``limit_conn``:

* a cap: past ``max_connections`` open connections a new one gets an immediate
  ``503`` and is closed, before aiohttp sees it;
* a head timeout: a connection has ``header_timeout`` seconds from opening (or
  from the first byte after an idle period) until a request reaches the
  application — slow-loris heads and silent connections are closed;
* an idle timeout: between requests, ``idle_timeout`` seconds.

The middleware in :mod:`gamsi.http_guard` tells the connection when a request is
being handled (no timer runs) and when it is done (the idle timer starts).
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Callable
from typing import Any

import orjson

from gamsi.logs import RateLimitFilter

try:
    import resource
except ImportError:  # Windows: no RLIMIT_NOFILE to raise
    resource = None  # type: ignore[assignment]

log = logging.getLogger("gamsi.http")


class LimitedLog:
    """A logger's lines rate-limited per instance: one per kind per ``period`` seconds.

    Each endpoint has its own, so one endpoint's flood never hides another's first
    line (:class:`gamsi.logs.RateLimitFilter` counts what it drops).
    """

    def __init__(self, logger: logging.Logger, period: float = 60.0) -> None:
        self._logger = logger
        self._filter = RateLimitFilter(period)

    def log(self, level: int, msg: str, *args: object, exc_info: bool = False) -> None:
        if not self._logger.isEnabledFor(level):
            return
        info = sys.exc_info() if exc_info else None
        record = self._logger.makeRecord(
            self._logger.name,
            level,
            __file__,
            0,
            msg,
            args,
            info,  # type: ignore[arg-type]
        )
        if self._filter.filter(record):
            self._logger.handle(record)


_BUSY_BODY = orjson.dumps({"error": "too many connections; try again shortly"})
BUSY_RESPONSE = (
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
    b"Retry-After: 1\r\nConnection: close\r\n"
    + f"Content-Length: {len(_BUSY_BODY)}\r\n\r\n".encode()
    + _BUSY_BODY
)


class ConnectionLimits:
    """The shared state of one endpoint's connections: limits (seconds, a count) and the
    number open now. ``name`` labels log lines ("ack API")."""

    def __init__(
        self, name: str, max_connections: int, header_timeout: float, idle_timeout: float
    ) -> None:
        self.name = name
        self.max_connections = max_connections
        self.header_timeout = header_timeout
        self.idle_timeout = idle_timeout
        self.open = 0
        self.refused = 0
        self.log = LimitedLog(log)


class GuardedConnection(asyncio.Protocol):
    """One accepted connection: admits or refuses it, runs its timers, forwards everything
    else to the inner protocol (aiohttp's ``RequestHandler``) made by ``make_inner``."""

    def __init__(self, limits: ConnectionLimits, make_inner: Callable[[], Any]) -> None:
        self._limits = limits
        self._make_inner = make_inner
        self._inner: Any = None
        self._transport: asyncio.Transport | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._state = "head"  # head: waiting for a request; busy: handling one; idle: between

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        limits = self._limits
        if limits.open >= limits.max_connections:
            limits.refused += 1
            limits.log.log(
                logging.WARNING,
                "%s: %d connections open, the [http] max_connections cap; refusing new ones",
                limits.name,
                limits.open,
            )
            transport.write(BUSY_RESPONSE)
            transport.close()
            return
        limits.open += 1
        self._transport = transport
        self._inner = self._make_inner()
        self._inner.connection_made(transport)
        self._arm(limits.header_timeout, "head")

    def data_received(self, data: bytes) -> None:
        if self._inner is None:
            return
        if self._state == "idle":  # a new request starts: its head must arrive in time
            self._arm(self._limits.header_timeout, "head")
        self._inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self._inner.eof_received() if self._inner is not None else None

    def pause_writing(self) -> None:
        if self._inner is not None:
            self._inner.pause_writing()

    def resume_writing(self) -> None:
        if self._inner is not None:
            self._inner.resume_writing()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel()
        if self._inner is not None:
            self._limits.open -= 1
            inner, self._inner = self._inner, None
            inner.connection_lost(exc)

    def busy(self) -> None:
        """A request reached the application: no timer while it is handled."""
        self._cancel()
        self._state = "busy"

    def idle(self) -> None:
        """The request is answered: the connection may stay idle ``idle_timeout`` seconds."""
        if self._inner is not None:
            self._arm(self._limits.idle_timeout, "idle")

    def _arm(self, seconds: float, state: str) -> None:
        self._cancel()
        self._state = state
        loop = asyncio.get_running_loop()
        self._timer = loop.call_later(seconds, self._expire)

    def _cancel(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _expire(self) -> None:
        self._timer = None
        if self._transport is None or self._transport.is_closing():
            return
        what = "no complete request head" if self._state == "head" else "idle"
        self._limits.log.log(
            logging.INFO,
            "%s: closing a connection (%s within the timeout)",
            self._limits.name,
            what,
        )
        self._transport.close()


def connection_of(transport: asyncio.BaseTransport | None) -> GuardedConnection | None:
    """The :class:`GuardedConnection` behind a request's transport, if it has one."""
    if transport is None:
        return None
    protocol = transport.get_protocol()
    return protocol if isinstance(protocol, GuardedConnection) else None


FD_HEADROOM = 1024
"""Descriptors kept for everything but HTTP connections (Kafka clients, files, the store)."""


def ensure_fd_limit(max_connections: int) -> int:
    """Raise this process's soft RLIMIT_NOFILE, within the hard limit, to at least
    ``max_connections + FD_HEADROOM``; returns the soft limit in force.

    systemd starts services with a soft limit of 1,024 (hard 524,288), which 1,100
    idle connections exhausted. Raising the soft limit to what is needed is what
    systemd's documentation advises programs that need more (``LimitNOFILE=`` in the
    units does the same from outside). Logs one warning when the hard limit is too low.
    """
    want = max_connections + FD_HEADROOM
    if resource is None:
        return want
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < want:
        target = want if hard == resource.RLIM_INFINITY else min(want, hard)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass
        if soft < want:
            log.warning(
                "open-file limit %d is below the %d an endpoint with [http] max_connections = "
                "%d needs; raise LimitNOFILE (or ulimit -n)",
                soft,
                want,
                max_connections,
            )
    return soft
