"""Email over SMTP: STARTTLS and login, a text and an HTML part, threaded by Message-ID.

The Message-ID is derived from Gamsi's idempotency key, so a mail server or
client that sees the same message twice can recognise it; follow-ups (the
recovery, re-notifications) reply to the first message with In-Reply-To and
References, which mail clients show as one conversation.
"""

from __future__ import annotations

import hashlib
import html
import ssl
from collections.abc import Mapping
from email.message import EmailMessage
from email.utils import formatdate
from typing import Any

from gamsi.notifier.channels import PermanentError, Receipt, RetryableError, register
from gamsi.notifier.message import Notification
from gamsi.notifier.options import check_keys, get_bool, get_int, get_str
from gamsi.notifier.secrets import Secrets
from gamsi.notifier.smtp_client import SmtpError, SmtpServer, send_message
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
        self.server = SmtpServer(
            host=get_str(options, "host", where),
            port=get_int(options, "port", where, 587),
            starttls=get_bool(options, "starttls", where, True),
            implicit_tls=get_bool(options, "tls", where, False),
            username=username,
            password=password,
            ssl_context=context,
            timeout=float(get_int(options, "timeout", where, 30)),
        )

    async def send(self, notification: Notification) -> Receipt:
        msg = build_message(notification, self.sender)
        try:
            await send_message(self.server, self.sender, [notification.address], msg.as_bytes())
        except SmtpError as exc:
            text = self._secrets.redact(f"email {self.name}: {exc}")
            if 400 <= exc.code < 500 or exc.code == 0:
                raise RetryableError(text) from None
            raise PermanentError(text) from None
        except (OSError, TimeoutError, ssl.SSLError) as exc:
            text = self._secrets.redact(f"email {self.name}: {type(exc).__name__}: {exc}")
            raise RetryableError(text) from None
        return Receipt(ref=notification.thread_ref or msg["Message-ID"])

    async def close(self) -> None:
        return None


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
