"""Email over SMTP (aiosmtplib): STARTTLS or TLS, any AUTH mechanism, a text and an HTML part.

aiosmtplib negotiates what the server offers after EHLO — STARTTLS, SMTPUTF8, and
the AUTH mechanism (CRAM-MD5, PLAIN or LOGIN, in that order of preference, per
RFC 4954) — so a server that offers only LOGIN works as well as one offering PLAIN.

The Message-ID is derived from Gamsi's idempotency key, so a mail server or
client that sees the same message twice can recognise it; follow-ups (the
recovery, re-notifications) reply to the first message with In-Reply-To and
References, which mail clients show as one conversation.

Reply codes map onto the channel contract: 4xx (and a lost connection or a
timeout) is retryable, 5xx (a refused login, an unknown mailbox) is permanent.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import html
import ssl
from collections.abc import Mapping
from email.message import EmailMessage
from email.utils import formatdate
from typing import Any

import aiosmtplib

from gamsi.notifier.channels import (
    ChannelError,
    PermanentError,
    Receipt,
    RetryableError,
    register,
)
from gamsi.notifier.message import Notification
from gamsi.notifier.options import check_keys, get_bool, get_int, get_str
from gamsi.notifier.secrets import Secrets
from gamsi.settings import ConfigError

OPTIONS = {
    "type",
    "host",
    "port",
    "starttls",
    "tls",
    "username",
    "password_env",
    "password_file",
    "sender",
    "ca_file",
    "timeout",
}
CLOSE_WAIT = 5.0  # seconds a finished send waits for its connection to close


@register("email")
class EmailChannel:
    """Options: host, port (587), starttls (true), tls (implicit, 465), username,
    password_env/password_file, sender, ca_file (extra CA to trust), timeout (s)."""

    def __init__(self, name: str, options: Mapping[str, Any], secrets: Secrets) -> None:
        where = f"channels.{name}"
        check_keys(options, OPTIONS, where)
        self.name = name
        self._secrets = secrets
        self.sender = get_str(options, "sender", where)
        username = get_str(options, "username", where, "")
        password = secrets.resolve(options, "password", where, required=bool(username))
        context = ssl.create_default_context()
        ca_file = get_str(options, "ca_file", where, "")
        if ca_file:
            try:
                context.load_verify_locations(ca_file)
            except (OSError, ssl.SSLError) as exc:
                raise ConfigError(f"{where}: ca_file: cannot load {ca_file}: {exc}") from None
        implicit_tls = get_bool(options, "tls", where, False)
        starttls = get_bool(options, "starttls", where, True) and not implicit_tls
        self._smtp: dict[str, Any] = {
            "hostname": get_str(options, "host", where),
            "port": get_int(options, "port", where, 465 if implicit_tls else 587),
            "use_tls": implicit_tls,
            "start_tls": starttls,
            "tls_context": context,
            "username": username or None,
            "password": password or None,
            "timeout": float(get_int(options, "timeout", where, 30)),
            "local_hostname": "gamsi",
        }

    async def send(self, notification: Notification) -> Receipt:
        """Deliver one message to ``notification.address``; returns its Message-ID as the ref.

        Raises RetryableError for 4xx replies, lost connections and timeouts, and
        PermanentError for 5xx replies (including a refused login) and for a server
        that offers no AUTH mechanism the client can use. No text carries the password.
        """
        msg = build_message(notification, self.sender)
        client = _Client(**self._smtp)
        try:
            async with client:  # connect, EHLO, STARTTLS, AUTH; QUIT on the way out
                await client.send_message(msg, sender=self.sender, recipients=[msg["To"]])
        except (aiosmtplib.SMTPException, OSError, TimeoutError, ssl.SSLError) as exc:
            raise self._error(exc) from None
        finally:
            await client.wait_lost()
        return Receipt(ref=notification.thread_ref or msg["Message-ID"])

    def _error(self, exc: BaseException) -> ChannelError:
        what = f"email {self.name}"
        if isinstance(exc, aiosmtplib.SMTPRecipientsRefused) and exc.recipients:
            exc = exc.recipients[0]
        if isinstance(exc, aiosmtplib.SMTPResponseException):
            text = self._secrets.redact(f"{what}: SMTP {exc.code}: {exc.message}")
            return RetryableError(text) if 400 <= exc.code < 500 else PermanentError(text)
        text = self._secrets.redact(f"{what}: {type(exc).__name__}: {exc}")
        if isinstance(exc, OSError | TimeoutError | ssl.SSLError):  # includes disconnects
            return RetryableError(text)
        return PermanentError(text)  # no usable AUTH mechanism, no STARTTLS offered

    async def close(self) -> None:
        return None


class _Client(aiosmtplib.SMTP):
    """aiosmtplib's client, plus a wait until the connection is really gone.

    After STARTTLS, closing the transport starts a TLS shutdown that finishes
    later; without the wait, a notifier that stops right after a send leaves the
    socket to the garbage collector (a ResourceWarning, an fd held meanwhile).
    """

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self._lost = asyncio.Event()

    def _on_connection_lost(self, protocol: Any) -> None:  # aiosmtplib's own hook
        super()._on_connection_lost(protocol)
        self._lost.set()

    async def connect(self, **options: Any) -> Any:
        try:
            return await super().connect(**options)
        except aiosmtplib.SMTPConnectError:  # no connection (or refused at once): none to wait
            self._lost.set()
            raise

    async def wait_lost(self) -> None:
        """Wait up to CLOSE_WAIT seconds until the connection is closed on both sides."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(CLOSE_WAIT):
                await self._lost.wait()


def message_id(key: str) -> str:
    return f"<{hashlib.sha256(key.encode()).hexdigest()[:32]}@gamsi>"


def build_message(n: Notification, sender: str) -> EmailMessage:
    msg = EmailMessage()
    msg["Subject"] = n.headline()
    msg["From"] = sender
    msg["To"] = n.address
    msg["Date"] = formatdate(n.at, usegmt=True)
    msg["Message-ID"] = message_id(n.key)
    msg["X-Gamsi-Key"] = n.key
    if n.thread_ref:
        msg["In-Reply-To"] = n.thread_ref
        msg["References"] = n.thread_ref
    msg.set_content(n.text())
    msg.add_alternative(html_body(n), subtype="html")
    return msg


def html_body(n: Notification) -> str:
    rows = "".join(f"<li>{html.escape(line)}</li>" for line in n.lines())
    ack = f"<p>Acknowledged by {html.escape(n.acked_by)}.</p>" if n.acked_by else ""
    link = (
        f'<p><a href="{html.escape(n.dashboard_url)}">Open the dashboard</a></p>'
        if n.dashboard_url
        else ""
    )
    colour = n.severity.colour
    return (
        f'<div style="border-left:6px solid {colour};padding-left:12px">'
        f"<h3>{html.escape(n.headline())}</h3><ul>{rows}</ul>{ack}{link}"
        f"<p><small>route {html.escape(n.route)}</small></p></div>"
    )
