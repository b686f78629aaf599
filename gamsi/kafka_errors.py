"""Kafka that cannot be reached: recognised once, told in one line, waited for quietly.

Every command that needs Kafka goes through ``gamsi.cli.main``, which maps an
exception :func:`unreachable` recognises to the one line of :func:`unreachable_line`
and exit code :data:`EXIT_UNREACHABLE` (75, ``EX_TEMPFAIL`` of sysexits.h: try
again later), with the traceback only under ``-v``. The class it recognises:
aiokafka's ``KafkaConnectionError`` (refused, unresolvable, bootstrap failed),
``KafkaTimeoutError`` and ``RequestTimedOutError``, ``NoBrokersAvailable``, the
OS's ``ConnectionRefusedError``/``ConnectionResetError``, ``TimeoutError`` from a
bounded wait, anywhere in the exception's cause/context chain.

The ``run`` commands (services) do not exit: :func:`wait_for_broker` waits with
capped backoff and logs one line per minute until the broker answers, so units
may start in any order (systemd, ``gamsi up`` after a broker restart).

Clients are started with :func:`started`, which stops them when ``start()``
fails too, so a failed connection never leaves aiokafka's "Unclosed
AIOKafkaConsumer" warning behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from typing import Any, Protocol

from gamsi.settings import Settings

EXIT_UNREACHABLE = 75
"""Exit code of a command that could not reach Kafka (sysexits.h ``EX_TEMPFAIL``)."""

WAIT_LOG_PERIOD = 60.0
"""Seconds between two "waiting for Kafka" lines of one service."""

log = logging.getLogger("gamsi.kafka")


class _Client(Protocol):
    async def start(self) -> Any: ...
    async def stop(self) -> Any: ...


def _kafka_unreachable_types() -> tuple[type[BaseException], ...]:
    from aiokafka import errors

    names = ("KafkaConnectionError", "KafkaTimeoutError", "RequestTimedOutError")
    found = tuple(getattr(errors, n) for n in names if hasattr(errors, n))
    extra = getattr(errors, "NoBrokersAvailable", None)
    return found + ((extra,) if extra else ())


def unreachable(exc: BaseException) -> bool:
    """True if ``exc`` (or anything in its cause/context chain, or an exception group's
    members) means the broker could not be reached, as opposed to a refusal or a bug."""
    kafka_types = _kafka_unreachable_types()
    seen: set[int] = set()
    todo: list[BaseException] = [exc]
    while todo:
        e = todo.pop()
        if id(e) in seen:
            continue
        seen.add(id(e))
        if isinstance(e, (*kafka_types, ConnectionRefusedError, ConnectionResetError)):
            return True
        if isinstance(e, TimeoutError) and "Kafka" in str(e):
            return True
        if isinstance(e, BaseExceptionGroup):
            todo.extend(e.exceptions)
        todo.extend(x for x in (e.__cause__, e.__context__) if x is not None)
    return False


def unreachable_line(settings: Settings) -> str:
    """The one line printed for an unreachable broker, naming the configured bootstrap."""
    return f"gamsi: cannot reach Kafka at {settings.kafka.bootstrap} — is gamsi up running?"


@contextlib.asynccontextmanager
async def started(*clients: _Client) -> AsyncIterator[None]:
    """Start ``clients`` in order and stop every one on exit — also when a ``start()``
    fails, so an unreachable broker leaves no unclosed client behind. Stop errors
    are suppressed so they never hide the error that ended the block."""
    try:
        for client in clients:
            await client.start()
        yield
    finally:
        for client in reversed(clients):
            with contextlib.suppress(Exception):
                await client.stop()


async def broker_answers(settings: Settings, within: float = 5.0) -> bool:
    """One metadata request to the configured bootstrap (with its TLS/SASL options)
    within ``within`` seconds; True if it was answered."""
    from aiokafka.admin import AIOKafkaAdminClient

    from gamsi.kafka_auth import kafka_client_options

    admin = AIOKafkaAdminClient(
        **kafka_client_options(settings), request_timeout_ms=int(within * 1000)
    )
    try:
        async with asyncio.timeout(within + 1):
            await admin.start()
            await admin.list_topics()
        return True
    except Exception as exc:  # any failure to answer is "not answering"
        if not unreachable(exc) and not isinstance(exc, TimeoutError | OSError):
            log.debug("metadata request failed: %r", exc)
        return False
    finally:
        with contextlib.suppress(Exception):
            await admin.close()


async def wait_for_broker(
    settings: Settings,
    stop: asyncio.Event | None = None,
    *,
    who: str = "gamsi",
    cap: float = 30.0,
    log_period: float = WAIT_LOG_PERIOD,
) -> bool:
    """Wait until the broker answers, retrying after 1, 2, 4 ... ``cap`` seconds.

    Logs one warning when the wait starts and then at most one per ``log_period``
    seconds (with how long it has waited), and one info line when the broker answers
    after a wait. Returns True once it answers, False if ``stop`` was set first.
    aiokafka's own connection errors are silenced while waiting (they are the same
    news, thousands of times).
    """
    aio = logging.getLogger("aiokafka")
    saved = aio.level
    began = time.monotonic()
    last_line = -log_period
    backoff = 1.0
    waited = False
    try:
        while True:
            aio.setLevel(logging.CRITICAL)
            try:
                if await broker_answers(settings):
                    if waited:
                        log.info("%s: Kafka at %s answers", who, settings.kafka.bootstrap)
                    return True
            finally:
                aio.setLevel(saved)
            waited = True
            now = time.monotonic()
            if now - last_line >= log_period:
                last_line = now
                log.warning(
                    "%s: waiting for Kafka at %s (%.0f s so far) — is gamsi up running?",
                    who,
                    settings.kafka.bootstrap,
                    now - began,
                )
            if stop is None:
                await asyncio.sleep(backoff)
            else:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), backoff)
                if stop.is_set():
                    return False
            backoff = min(backoff * 2, cap)
    finally:
        aio.setLevel(saved)


__all__ = [
    "EXIT_UNREACHABLE",
    "broker_answers",
    "started",
    "unreachable",
    "unreachable_line",
    "wait_for_broker",
]
