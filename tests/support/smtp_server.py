"""A real local SMTP server (aiosmtpd) with STARTTLS and login, recording messages.

The TLS certificate is self-signed for 127.0.0.1, made with the openssl command;
``ca_file`` is what a client must trust. aiosmtpd runs its own event loop in a
daemon thread, stopped (and joined) on exit.

``mechanisms`` chooses the AUTH mechanisms the server offers after STARTTLS:
aiosmtpd's own PLAIN and LOGIN, and CRAM-MD5 (RFC 2195) implemented here, so a
test can check that the client negotiates whichever one a server offers.
"""

from __future__ import annotations

import contextlib
import email
import email.policy
import hashlib
import hmac
import secrets
import socket
import ssl
import subprocess
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import MISSING, AuthResult, LoginPassword

USER, PASSWORD = "gamsi", "s3cret-smtp-password"
ALL_MECHANISMS = ("PLAIN", "LOGIN", "CRAM-MD5")


def make_certificate(directory: Path) -> tuple[Path, Path]:
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


class _Recorder:
    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.envelopes: list[Any] = []
        self.mechanisms_used: list[str] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.envelopes.append(envelope)
        self.messages.append(
            email.message_from_bytes(envelope.content, policy=email.policy.default)  # type: ignore[arg-type]
        )
        return "250 OK"

    async def auth_CRAM__MD5(self, server: Any, args: list[str]) -> AuthResult:
        """CRAM-MD5 (RFC 2195): the client answers ``user HMAC-MD5(password, challenge)``."""
        challenge = f"<{secrets.token_hex(8)}@127.0.0.1>".encode()
        answer = await server.challenge_auth(challenge)
        if answer is MISSING:
            return AuthResult(success=False)
        login, _, digest = answer.partition(b" ")
        want = hmac.new(PASSWORD.encode(), challenge, hashlib.md5).hexdigest().encode()
        ok = login == USER.encode() and hmac.compare_digest(digest, want)
        self.mechanisms_used.append("CRAM-MD5")
        return AuthResult(success=ok, handled=False)


class SmtpServer:
    def __init__(self, directory: Path, mechanisms: tuple[str, ...] = ALL_MECHANISMS) -> None:
        self.cert, self.key = make_certificate(directory)
        self.recorder = _Recorder()
        recorder = self.recorder

        def authenticator(
            server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
        ) -> AuthResult:
            recorder.mechanisms_used.append(mechanism)
            ok = isinstance(auth_data, LoginPassword) and (
                auth_data.login.decode() == USER and auth_data.password.decode() == PASSWORD
            )
            return AuthResult(success=ok, handled=False)

        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert, self.key)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.controller = Controller(
            self.recorder,
            hostname="127.0.0.1",
            port=self.port,
            tls_context=context,
            require_starttls=True,
            authenticator=authenticator,
            auth_required=True,
            auth_exclude_mechanism=[m for m in ALL_MECHANISMS if m not in mechanisms],
        )

    @property
    def messages(self) -> list[EmailMessage]:
        return self.recorder.messages


@contextlib.contextmanager
def running_smtp_server(
    directory: Path, mechanisms: tuple[str, ...] = ALL_MECHANISMS
) -> Iterator[SmtpServer]:
    """An :class:`SmtpServer` started for the ``with`` block and stopped after it."""
    server = SmtpServer(directory, mechanisms)
    server.controller.start()
    try:
        yield server
    finally:
        server.controller.stop()


@pytest.fixture
def smtp_server(tmp_path: Path) -> Iterator[SmtpServer]:
    with running_smtp_server(tmp_path) as server:
        yield server
