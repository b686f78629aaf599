"""gamsi.testing.channels catches what it promises to: wrong class, leaked secret, retries.

A small channel built like a third-party one (aiohttp, ``classify_status``) passes the
kit; each deliberately broken variant fails it with a message naming the problem.
"""

from __future__ import annotations

import logging
from typing import Any

import aiohttp
import pytest

from gamsi.notifier.channels import Receipt, RetryableError, classify_status
from gamsi.notifier.message import Notification
from gamsi.testing.channels import SECRET, check_status_table, check_unreachable

log = logging.getLogger("kit-test-channel")


class KitChannel:
    """POSTs the text to ``url`` with a bearer token; ``flaw`` breaks one rule on purpose."""

    def __init__(self, url: str, flaw: str = "") -> None:
        self.name, self.url, self.flaw, self.token = "kit", url, flaw, SECRET

    async def send(self, notification: Notification) -> Receipt:
        if self.flaw == "logs-token":
            log.debug("POST %s with Bearer %s", self.url, self.token)
        attempts = 2 if self.flaw == "retries" else 1
        for _ in range(attempts):
            try:
                async with (
                    aiohttp.ClientSession() as session,
                    session.post(
                        self.url, data=notification.key, headers={"Authorization": self.token}
                    ) as response,
                ):
                    status, body = response.status, await response.text()
                    retry_after = response.headers.get("Retry-After")
            except aiohttp.ClientError as exc:
                raise RetryableError(f"kit: {type(exc).__name__}") from None
            if status < 300:
                return Receipt(ref=notification.key)
        if self.flaw == "404-retryable" and status == 404:
            raise RetryableError("kit: HTTP 404")
        error = classify_status(status, "kit", float(retry_after) if retry_after else None)
        if self.flaw == "echoes-body":
            raise type(error)(f"{error}: {body}")
        raise error

    async def close(self) -> None:
        return None


def kit_channel(flaw: str = "") -> Any:
    return lambda url: KitChannel(url, flaw)


async def test_a_correct_channel_passes() -> None:
    await check_status_table(kit_channel())
    await check_unreachable(kit_channel())


@pytest.mark.parametrize(
    ("flaw", "expected"),
    [
        ("echoes-body", "the secret appears in the error text for HTTP 400"),
        ("404-retryable", "HTTP 404: expected PermanentError, got RetryableError"),
        ("retries", "HTTP 400: expected 1 request, got 2"),
        ("logs-token", "the secret appears in a log record for HTTP 200"),
    ],
)
async def test_each_broken_rule_is_caught(flaw: str, expected: str) -> None:
    with pytest.raises(AssertionError) as info:
        await check_status_table(kit_channel(flaw))
    assert expected in str(info.value)
