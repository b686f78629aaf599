"""Contract checks every notification channel passes (after Alertmanager's ``notify/test``).

A channel's tests hand a ``build(url)`` function that returns the channel configured
to send to ``url`` with :data:`SECRET` as its credential (through a ``Secrets``
store, as the routing file would: ``token_env``), then::

    await check_status_table(build)       # 2xx delivered, 429/408/5xx retryable, 4xx permanent
    await check_unreachable(build)        # connection refused: retryable, secret-free

Each check starts a local server on 127.0.0.1 (:class:`~gamsi.testing.http.HttpCapture`)
whose answers carry the secret, so a channel that copies a response or a header into
its error text, or logs its request, is caught. Failures raise ``AssertionError``
naming the status and what was expected.
"""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from gamsi.notifier.channels import Channel, ChannelError, PermanentError, RetryableError
from gamsi.notifier.message import Notification
from gamsi.schemas.records import SeverityEvent
from gamsi.testing.http import HttpCapture

SECRET = "TOPSECRET-7c1f9e"
"""The credential the checks give a channel and then look for in every error and log line."""

STATUS_TABLE: tuple[tuple[int, type[ChannelError] | None], ...] = (
    *((200, None), (201, None), (400, PermanentError), (401, PermanentError)),
    *((403, PermanentError), (404, PermanentError), (408, RetryableError)),
    *((413, PermanentError), (429, RetryableError), (500, RetryableError)),
    *((502, RetryableError), (503, RetryableError)),
)
"""HTTP status → the error a channel raises (None: delivered). Same table as ``classify_status``."""

RETRY_AFTER = 7


def notification(**overrides: Any) -> Notification:
    """An URGENT ``cpu.util`` raise on ``web-01`` for route ``ops``, recipient ``alice``.

    Keyword arguments replace :class:`~gamsi.notifier.message.Notification` fields
    (``address="#ops"``, ``kind="recover"``, ``events=[...]``).
    """
    now = time.time()
    event = SeverityEvent(
        event_id="e-1", host="web-01", item="cpu.util", instance="", watch="cpu", severity=4,
        previous=0, transition="raise", value=97.0, threshold=90.0, ts=now, since=now - 120,
    )  # fmt: skip
    base: dict[str, Any] = dict(
        route="ops", recipient="alice", channel="x", address="+821012345678", kind="raise",
        events=[event], at=now, key="e-1:ops:alice:x",
    )  # fmt: skip
    return Notification(**{**base, **overrides})


def check_secret_free(text: str, what: str, secret: str = SECRET) -> None:
    """Assert ``secret`` does not appear in ``text`` (``what`` names the text in the failure)."""
    if secret in text:
        raise AssertionError(f"the secret appears in {what}: {text[:200]!r}")


@contextmanager
def captured_logs() -> Iterator[list[logging.LogRecord]]:
    """Every log record emitted inside the block, at any level (the root logger at DEBUG)."""
    records: list[logging.LogRecord] = []

    class _Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    root = logging.getLogger()
    handler, level = _Keep(logging.DEBUG), root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield records
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


async def check_status_table(
    build: Callable[[str], Channel],
    *,
    secret: str = SECRET,
    table: tuple[tuple[int, type[ChannelError] | None], ...] = STATUS_TABLE,
    **notification_fields: Any,
) -> None:
    """Send once per status of ``table`` and check the outcome, the secret and the retries.

    For each status a fresh channel from ``build(url)`` sends one
    :func:`notification` (``notification_fields`` override its fields) to a server
    answering that status with the secret in its JSON body and ``Retry-After: 7``.
    Checked: 2xx returns, other statuses raise the expected error, a 429's error
    carries ``retry_after == 7``, exactly one request is made (retrying is the
    pipeline's job), and the secret is in neither the error text nor any log record.
    """
    for status, expected in table:
        async with HttpCapture() as server:
            for _ in range(3):  # the same answer to a retry, so the request count tells
                server.respond(status, {"error": secret}, {"Retry-After": str(RETRY_AFTER)})
            channel = build(server.url)
            try:
                with captured_logs() as records:
                    error = await _send(channel, notification(**notification_fields))
            finally:
                await channel.close()
            where = f"HTTP {status}"
            if expected is None and error is not None:
                raise AssertionError(f"{where}: expected a delivery, got {error!r}")
            if expected is not None and not isinstance(error, expected):
                raise AssertionError(f"{where}: expected {expected.__name__}, got {error!r}")
            if status == 429 and getattr(error, "retry_after", None) != RETRY_AFTER:
                raise AssertionError(f"{where}: expected retry_after={RETRY_AFTER} (Retry-After)")
            if len(server.requests) != 1:
                raise AssertionError(f"{where}: expected 1 request, got {len(server.requests)}")
            check_secret_free(str(error or ""), f"the error text for {where}", secret)
            for record in records:
                check_secret_free(record.getMessage(), f"a log record for {where}", secret)


async def check_unreachable(
    build: Callable[[str], Channel], *, secret: str = SECRET, **notification_fields: Any
) -> None:
    """A refused connection is a :class:`RetryableError` whose text holds no secret."""
    with socket.socket() as sock:  # a port that was free a moment ago: nothing listens
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    channel = build(f"http://127.0.0.1:{port}")
    try:
        error = await _send(channel, notification(**notification_fields))
    finally:
        await channel.close()
    if not isinstance(error, RetryableError):
        raise AssertionError(f"connection refused: expected RetryableError, got {error!r}")
    check_secret_free(str(error), "the error text for a refused connection", secret)


async def _send(channel: Channel, message: Notification) -> ChannelError | None:
    try:
        await channel.send(message)
    except ChannelError as exc:
        return exc
    return None
