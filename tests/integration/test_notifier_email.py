"""The email channel against a real local SMTP server (aiosmtpd) with STARTTLS and login."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from gamsi.notifier.channels import PermanentError, RetryableError, load_channel_types
from gamsi.notifier.channels.email import message_id
from gamsi.notifier.secrets import Secrets
from tests.integration.test_notifier_channels import notification
from tests.support.smtp_server import (  # noqa: F401
    PASSWORD,
    USER,
    SmtpServer,
    running_smtp_server,
    smtp_server,
)


def channel(server: SmtpServer, password: str = PASSWORD) -> object:
    types = load_channel_types()
    options = {
        "type": "email",
        "host": "127.0.0.1",
        "port": server.port,
        "username": USER,
        "password_env": "SMTP_PASSWORD",
        "sender": "gamsi@example.com",
        "ca_file": str(server.cert),
    }
    return types["email"]("mail", options, Secrets({"SMTP_PASSWORD": password}))


async def test_message_with_text_and_html_over_starttls(smtp_server: SmtpServer) -> None:  # noqa: F811
    n = notification(address="oncall@example.com")
    await channel(smtp_server).send(n)
    (msg,) = smtp_server.messages
    assert msg["To"] == "oncall@example.com"
    assert "URGENT" in msg["Subject"]
    assert "web-01" in msg["Subject"]
    assert msg["Message-ID"] == message_id(n.key)
    text = msg.get_body(("plain",)).get_content()
    html = msg.get_body(("html",)).get_content()
    assert "cpu.util" in text
    assert "#e01e5a" in html
    assert smtp_server.recorder.envelopes[0].mail_from == "gamsi@example.com"


async def test_recovery_replies_to_the_first_message(smtp_server: SmtpServer) -> None:  # noqa: F811
    mail = channel(smtp_server)
    first = await mail.send(notification(address="oncall@example.com"))
    recovery = notification(
        address="oncall@example.com", kind="recover", thread_ref=first.ref, key="e-2:ops:alice:x"
    )
    recovery.events[0].previous, recovery.events[0].severity = 4, 0
    await mail.send(recovery)
    second = smtp_server.messages[1]
    assert second["In-Reply-To"] == first.ref
    assert "RECOVERED" in second["Subject"]


async def test_wrong_password_is_permanent_and_never_shown(
    smtp_server: SmtpServer,  # noqa: F811
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = "not-the-password-4711"
    with pytest.raises(PermanentError) as info:
        await channel(smtp_server, wrong).send(notification(address="oncall@example.com"))
    assert "535" in str(info.value)
    assert wrong not in str(info.value)
    assert wrong not in caplog.text
    assert smtp_server.messages == []


async def test_unreachable_server_is_retryable() -> None:
    types = load_channel_types()
    mail = types["email"](
        "mail",
        {"type": "email", "host": "127.0.0.1", "port": 9, "sender": "g@example.com"},
        Secrets({}),
    )
    with pytest.raises(RetryableError):
        await mail.send(notification(address="oncall@example.com"))


@pytest.mark.parametrize("mechanism", ["LOGIN", "CRAM-MD5", "PLAIN"])
async def test_logs_in_with_whichever_mechanism_the_server_offers(
    tmp_path: Path, mechanism: str
) -> None:
    with running_smtp_server(tmp_path, mechanisms=(mechanism,)) as server:
        await channel(server).send(notification(address="oncall@example.com"))
        assert server.recorder.mechanisms_used == [mechanism]
        assert [m["To"] for m in server.messages] == ["oncall@example.com"]


async def test_wrong_password_over_login_is_permanent(tmp_path: Path) -> None:
    wrong = "not-the-password-0815"
    with running_smtp_server(tmp_path, mechanisms=("LOGIN",)) as server:
        with pytest.raises(PermanentError) as info:
            await channel(server, wrong).send(notification(address="oncall@example.com"))
        assert "535" in str(info.value)
        assert wrong not in str(info.value)
        assert server.messages == []
