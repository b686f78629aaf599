"""A small asyncio SMTP client: STARTTLS (or implicit TLS), AUTH PLAIN, one message.

smtplib blocks and would need a thread per send; this speaks the few commands a
notification needs on the event loop and reports the server's reply code, so
the email channel can map 4xx to "retry later" and 5xx to "permanent".
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import ssl
from dataclasses import dataclass


class SmtpError(Exception):
    """The server answered with an error code (or the connection failed: code 0)."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"SMTP {code}: {message}" if code else message)
        self.code = code


@dataclass(frozen=True)
class SmtpServer:
    host: str
    port: int = 587
    starttls: bool = True
    implicit_tls: bool = False
    username: str = ""
    password: str = ""
    ssl_context: ssl.SSLContext | None = None
    timeout: float = 30.0
    local_hostname: str = "gamsi"


async def send_message(server: SmtpServer, sender: str, recipients: list[str], data: bytes) -> str:
    """Deliver one message; returns the server's final reply text."""
    return await asyncio.wait_for(_send(server, sender, recipients, data), server.timeout)


async def _send(server: SmtpServer, sender: str, recipients: list[str], data: bytes) -> str:
    context = server.ssl_context or ssl.create_default_context()
    tls = context if server.implicit_tls else None
    reader, writer = await asyncio.open_connection(server.host, server.port, ssl=tls)
    try:
        await _expect(reader, 220)
        await _command(reader, writer, f"EHLO {server.local_hostname}", 250)
        if server.starttls and not server.implicit_tls:
            await _command(reader, writer, "STARTTLS", 220)
            await writer.start_tls(context, server_hostname=server.host)
            await _command(reader, writer, f"EHLO {server.local_hostname}", 250)
        if server.username:
            token = base64.b64encode(f"\0{server.username}\0{server.password}".encode()).decode()
            await _command(reader, writer, f"AUTH PLAIN {token}", 235, secret=True)
        await _command(reader, writer, f"MAIL FROM:<{sender}>", 250)
        for rcpt in recipients:
            await _command(reader, writer, f"RCPT TO:<{rcpt}>", 250, 251)
        await _command(reader, writer, "DATA", 354)
        writer.write(_dot_stuff(data) + b"\r\n.\r\n")
        await writer.drain()
        _code, text = await _expect(reader, 250)
        writer.write(b"QUIT\r\n")
        await writer.drain()
        return text
    finally:
        writer.close()
        with contextlib.suppress(OSError, ssl.SSLError):
            await writer.wait_closed()


async def _command(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    line: str,
    *ok: int,
    secret: bool = False,
) -> tuple[int, str]:
    writer.write(line.encode() + b"\r\n")
    await writer.drain()
    try:
        return await _expect(reader, *ok)
    except SmtpError as exc:
        shown = line.split(" ")[0] + (" PLAIN" if secret else "")
        raise SmtpError(exc.code, f"{shown}: {exc}") from None


async def _expect(reader: asyncio.StreamReader, *ok: int) -> tuple[int, str]:
    lines = []
    while True:
        raw = await reader.readline()
        if not raw:
            raise SmtpError(0, "connection closed by the server")
        line = raw.decode("utf-8", "replace").rstrip("\r\n")
        lines.append(line[4:])
        if len(line) < 4 or line[3] != "-":
            break
    try:
        code = int(line[:3])
    except ValueError:
        raise SmtpError(0, f"not an SMTP reply: {line[:80]!r}") from None
    text = " ".join(lines)
    if code not in ok:
        raise SmtpError(code, text)
    return code, text


def _dot_stuff(data: bytes) -> bytes:
    data = data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    lines = [b"." + ln if ln.startswith(b".") else ln for ln in data.split(b"\r\n")]
    return b"\r\n".join(lines)
