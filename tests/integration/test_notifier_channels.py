"""Contract tests every channel passes, against local servers (no SaaS is ever called).

1. The HTTP status table: 429, 408 and 5xx are retryable (429 carries Retry-After);
   every other 4xx is permanent; 2xx is a delivery.
2. No secret in error text or logs, whatever the failure.

The HTTP checks are the published kit :mod:`gamsi.testing.channels`, the same a
third-party channel's tests call (docs/extending.md).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest

from gamsi.notifier.channels import (
    CHANNEL_TYPES,
    PermanentError,
    RetryableError,
    load_channel_types,
)
from gamsi.notifier.secrets import Secrets
from gamsi.testing.channels import (
    SECRET,
    STATUS_TABLE,
    check_status_table,
    check_unreachable,
    notification,
)
from tests.support.http_capture import HttpCapture, http_capture  # noqa: F401
from tests.support.slack_standin import SlackStandIn

ENV = {"GAMSI_TEST_SECRET": SECRET}


def http_channels(url: str) -> dict[str, tuple[str, dict[str, Any]]]:
    """Every HTTP channel type, configured against the capture server with a secret."""
    return {
        "webhook": (
            "webhook",
            {"url": f"{url}/hook", "secret_headers_env": {"Authorization": "GAMSI_TEST_SECRET"}},
        ),
        "sms-twilio": (
            "sms",
            {
                "preset": "twilio",
                "url": f"{url}/twilio/${{account_sid}}",
                "account_sid": "AC1",
                "sender": "+15550001",
                "auth_token_env": "GAMSI_TEST_SECRET",
            },
        ),
        "sms-vonage": (
            "sms",
            {
                "preset": "vonage",
                "url": f"{url}/vonage",
                "api_key": "k",
                "sender": "Gamsi",
                "api_secret_env": "GAMSI_TEST_SECRET",
            },
        ),
        "sms-nhn": (
            "sms",
            {
                "preset": "nhn-sms",
                "url": f"{url}/nhn",
                "app_key": "app",
                "sender": "0212345678",
                "secret_key_env": "GAMSI_TEST_SECRET",
            },
        ),
        "kakao": (
            "kakao",
            {
                "preset": "nhn-alimtalk",
                "url": f"{url}/alimtalk",
                "app_key": "app",
                "sender_key": "sk",
                "template_code": "GAMSI01",
                "secret_key_env": "GAMSI_TEST_SECRET",
            },
        ),
        "ntfy": ("ntfy", {"server": url, "token_env": "GAMSI_TEST_SECRET"}),
    }


_BUILT: list[Any] = []


def build(kind: str, options: dict[str, Any], secrets: Secrets) -> Any:
    """A channel of ``kind``; closed after the test by :func:`_close_built_channels`."""
    load_channel_types()
    channel = CHANNEL_TYPES[kind]("x", {"type": kind, **options}, secrets)
    _BUILT.append(channel)
    return channel


@pytest.fixture(autouse=True)
async def _close_built_channels() -> AsyncIterator[None]:
    yield
    while _BUILT:
        await _BUILT.pop().close()


@pytest.mark.parametrize("name", list(http_channels("http://x")))
async def test_http_status_table_and_no_secret(name: str) -> None:
    """The published contract checks (gamsi.testing.channels), as a plugin's tests run them."""

    def channel_at(url: str) -> Any:
        return build(*http_channels(url)[name], Secrets(ENV))

    await check_status_table(channel_at)
    await check_unreachable(channel_at)


@pytest.mark.parametrize(("status", "error"), STATUS_TABLE)
async def test_slack_status_table(
    caplog: pytest.LogCaptureFixture, status: int, error: type[Exception] | None
) -> None:
    caplog.set_level(logging.DEBUG)
    async with SlackStandIn(token=SECRET) as slack:
        if status >= 300:
            slack.fail(status, error="fatal_error")
        channel = build(
            "slack", {"token_env": "GAMSI_TEST_SECRET", "base_url": slack.base_url}, Secrets(ENV)
        )
        if error is None:
            receipt = await channel.send(notification(address="#ops"))
            assert receipt.ref == slack.messages[0]["ts"]
        else:
            with pytest.raises(error) as info:
                await channel.send(notification(address="#ops"))
            assert SECRET not in str(info.value)
    assert SECRET not in caplog.text


async def test_slack_invalid_auth_is_permanent_and_secret_free(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    async with SlackStandIn(token="the-right-token") as slack:
        channel = build(
            "slack", {"token_env": "GAMSI_TEST_SECRET", "base_url": slack.base_url}, Secrets(ENV)
        )
        with pytest.raises(PermanentError, match="invalid_auth") as info:
            await channel.send(notification(address="#ops"))
    assert SECRET not in str(info.value)
    assert SECRET not in caplog.text


async def test_slack_429_carries_retry_after() -> None:
    async with SlackStandIn() as slack:
        slack.rate_limit(1, retry_after=3)
        channel = build(
            "slack", {"token_env": "GAMSI_TEST_SECRET", "base_url": slack.base_url}, Secrets(ENV)
        )
        with pytest.raises(RetryableError) as info:
            await channel.send(notification(address="#ops"))
    assert info.value.retry_after == 3


async def test_webhook_body_template_and_headers(http_capture: HttpCapture) -> None:  # noqa: F811
    channel = build(
        "webhook",
        {
            "url": f"{http_capture.url}/hook",
            "headers": {"X-Team": "ops"},
            "body": {
                "msg": "${severity} on ${host}",
                "level": "${severity_level}",
                "all": "${events}",
            },
        },
        Secrets(ENV),
    )
    await channel.send(notification())
    request = http_capture.requests[0]
    body = request.json()
    assert body["msg"] == "URGENT on web-01"
    assert body["level"] == 4
    assert [e["host"] for e in body["all"]] == ["web-01"]
    assert request.headers["X-Team"] == "ops"
    assert request.headers["Idempotency-Key"] == "e-1:ops:alice:x"


async def test_twilio_preset_sends_the_documented_form(
    http_capture: HttpCapture,  # noqa: F811
) -> None:
    kind, options = http_channels(http_capture.url)["sms-twilio"]
    await build(kind, options, Secrets(ENV)).send(notification())
    request = http_capture.requests[0]
    assert request.path == "/twilio/AC1"
    form = dict(p.split("=", 1) for p in request.body.decode().split("&"))
    assert form["To"] == "%2B821012345678"
    assert form["From"] == "%2B15550001"
    assert "URGENT" in form["Body"]
    assert request.headers["Authorization"].startswith("Basic ")


async def test_vonage_failure_inside_http_200_is_permanent(
    http_capture: HttpCapture,  # noqa: F811
) -> None:
    kind, options = http_channels(http_capture.url)["sms-vonage"]
    http_capture.respond(200, {"messages": [{"status": "4", "error-text": "Bad Credentials"}]})
    with pytest.raises(PermanentError, match="Bad Credentials"):
        await build(kind, options, Secrets(ENV)).send(notification())


async def test_ntfy_priority_follows_severity(http_capture: HttpCapture) -> None:  # noqa: F811
    kind, options = http_channels(http_capture.url)["ntfy"]
    await build(kind, options, Secrets(ENV)).send(notification(address="ops-alerts"))
    body = http_capture.requests[0].json()
    assert body["topic"] == "ops-alerts"
    assert body["priority"] == 5
    assert "web-01" in body["message"]
    assert http_capture.requests[0].headers["Authorization"] == f"Bearer {SECRET}"


@pytest.mark.parametrize("name", list(http_channels("http://x")))
async def test_http_channel_reuses_one_connection_until_closed(
    http_capture: HttpCapture,  # noqa: F811
    name: str,
) -> None:
    kind, options = http_channels(http_capture.url)[name]
    channel = build(kind, options, Secrets(ENV))
    for _ in range(3):
        await channel.send(notification())
    peers = {r.peer for r in http_capture.requests}
    assert len(http_capture.requests) == 3
    assert len(peers) == 1  # one kept-alive connection, not one per message
    await channel.close()
    assert not channel.http.is_open
    await channel.send(notification())  # a send after close opens a new session
    assert http_capture.requests[-1].peer not in peers


async def test_slack_reuses_one_connection_until_closed() -> None:
    async with SlackStandIn() as slack:
        channel = build(
            "slack", {"token_env": "GAMSI_TEST_SECRET", "base_url": slack.base_url}, Secrets(ENV)
        )
        for _ in range(3):
            await channel.send(notification(address="#ops"))
        assert len({r.peer for r in slack.requests}) == 1
        await channel.close()
    assert len(slack.messages) == 3
