"""Kafka TLS and SASL for every Gamsi client: the ``[kafka]`` security settings and one helper.

A broker anyone can reach lets anyone publish policies, acks and remediation
commands. In production the brokers speak TLS and authenticate each Gamsi role
with SASL/SCRAM (RFC 5802/7677, Kafka's KIP-84), and ACLs give each role only its
topics (docs/deploy.md shows the set-up per role). Every client — collector,
stream workers, notifier, history, remediator, web, CLI — takes its connection
options from :func:`kafka_client_options` (aiokafka) or :func:`faust_credentials`
(the stream workers' Faust app), so one set of settings secures them all.

Secrets follow the rest of Gamsi: ``sasl_password`` or, better,
``sasl_password_file`` (first line); neither is ever shown (``gamsi config show``
masks it, as every secret setting).
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from typing import Any

from gamsi.config_fields import ConfigError, opt
from gamsi.files import read_secret_file

PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
MECHANISMS = ("SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN")


@dataclass(frozen=True)
class KafkaSecuritySettings:
    """How Gamsi's clients connect to Kafka: TLS, SASL and their secrets (part of ``[kafka]``)."""

    security_protocol: str = opt(
        "PLAINTEXT",
        "PLAINTEXT, SSL (TLS), SASL_PLAINTEXT or SASL_SSL (TLS and a SASL login; use it in "
        "production).",
    )
    sasl_mechanism: str = opt(
        "SCRAM-SHA-512", "SASL mechanism: SCRAM-SHA-512, SCRAM-SHA-256 or PLAIN (only over TLS)."
    )
    sasl_username: str = opt("", "SASL user of this service's role (e.g. gamsi-collector).")
    sasl_password: str = opt(
        "",
        "SASL password. Prefer sasl_password_file or GAMSI_KAFKA_SASL_PASSWORD; never shown.",
        secret=True,
    )
    sasl_password_file: str = opt("", "File holding the SASL password (first line).")
    ssl_cafile: str = opt(
        "", "PEM file of the CA that signed the brokers' certificates (empty: the system's)."
    )
    ssl_certfile: str = opt("", "PEM client certificate, for brokers that require one (mTLS).")
    ssl_keyfile: str = opt("", "PEM private key of ssl_certfile.")
    ssl_check_hostname: bool = opt(
        True, "Check that a broker's certificate names the host connected to."
    )

    def __post_init__(self) -> None:
        if self.security_protocol not in PROTOCOLS:
            raise ConfigError(
                f"[kafka] security_protocol: expected one of {', '.join(PROTOCOLS)}, "
                f"got {self.security_protocol!r}"
            )
        if self.sasl_mechanism not in MECHANISMS:
            raise ConfigError(
                f"[kafka] sasl_mechanism: expected one of {', '.join(MECHANISMS)}, "
                f"got {self.sasl_mechanism!r}"
            )
        if self.security_protocol == "SASL_PLAINTEXT" and self.sasl_mechanism == "PLAIN":
            raise ConfigError(
                "[kafka] sasl_mechanism: PLAIN sends the password in clear text; "
                "use it only with security_protocol = SASL_SSL"
            )
        if bool(self.ssl_certfile) != bool(self.ssl_keyfile):
            raise ConfigError("[kafka] ssl_certfile and ssl_keyfile: give both or neither")

    @property
    def uses_tls(self) -> bool:
        return self.security_protocol in ("SSL", "SASL_SSL")

    @property
    def uses_sasl(self) -> bool:
        return self.security_protocol.startswith("SASL_")


def ssl_context(conf: KafkaSecuritySettings) -> ssl.SSLContext | None:
    """The TLS context for ``conf`` (None without TLS). Raises ConfigError naming the file
    that cannot be loaded."""
    if not conf.uses_tls:
        return None
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    context.check_hostname = conf.ssl_check_hostname
    try:
        if conf.ssl_cafile:
            context.load_verify_locations(cafile=conf.ssl_cafile)
        if conf.ssl_certfile:
            context.load_cert_chain(conf.ssl_certfile, conf.ssl_keyfile)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"[kafka] ssl files: cannot load: {exc}") from None
    return context


def sasl_password(conf: KafkaSecuritySettings) -> str:
    """The password from the setting or its file; ConfigError when SASL needs one and
    there is none."""
    if conf.sasl_password:
        return conf.sasl_password
    if conf.sasl_password_file:
        return read_secret_file(conf.sasl_password_file, "[kafka] sasl_password_file")
    if conf.uses_sasl:
        raise ConfigError(
            f"[kafka] sasl_password: security_protocol {conf.security_protocol} needs a "
            "password (sasl_password_file, or GAMSI_KAFKA_SASL_PASSWORD)"
        )
    return ""


def kafka_client_options(settings: Any) -> dict[str, Any]:
    """Keyword arguments for every aiokafka client of ``settings`` (a Settings object):
    ``bootstrap_servers`` plus, as configured, ``security_protocol``, ``ssl_context``,
    ``sasl_mechanism``, ``sasl_plain_username`` and ``sasl_plain_password``.

    Producers take :func:`producer_options` (these plus acks and idempotence). Raises
    ConfigError for unreadable TLS files or a missing SASL password or user.
    """
    conf: KafkaSecuritySettings = settings.kafka
    options: dict[str, Any] = {"bootstrap_servers": settings.kafka.bootstrap}
    if conf.security_protocol == "PLAINTEXT":
        return options
    options["security_protocol"] = conf.security_protocol
    context = ssl_context(conf)
    if context is not None:
        options["ssl_context"] = context
    if conf.uses_sasl:
        if not conf.sasl_username:
            raise ConfigError(
                f"[kafka] sasl_username: security_protocol {conf.security_protocol} needs a user"
            )
        options["sasl_mechanism"] = conf.sasl_mechanism
        options["sasl_plain_username"] = conf.sasl_username
        options["sasl_plain_password"] = sasl_password(conf)
    return options


def producer_options(settings: Any) -> dict[str, Any]:
    """Keyword arguments for every Gamsi producer: :func:`kafka_client_options` plus
    ``acks="all"`` (a write is acknowledged once every in-sync replica has it; with
    ``min.insync.replicas=2`` on three copies it survives the loss of a broker) and
    ``enable_idempotence=True`` (a retried batch is written once, in order; KIP-98).
    That pair is Kafka's documented setting for no loss and no duplicates from retries.

    Use as ``AIOKafkaProducer(**producer_options(settings), client_id=...)``. Raises
    ConfigError as :func:`kafka_client_options` does."""
    return {**kafka_client_options(settings), "acks": "all", "enable_idempotence": True}


def faust_credentials(settings: Any) -> Any:
    """``broker_credentials`` for a Faust app: None, faust's SSLCredentials or SASLCredentials."""
    conf: KafkaSecuritySettings = settings.kafka
    if conf.security_protocol == "PLAINTEXT":
        return None
    import faust  # only the stream workers import Faust

    context = ssl_context(conf)
    if not conf.uses_sasl:
        return faust.SSLCredentials(context)
    options = kafka_client_options(settings)
    return faust.SASLCredentials(
        username=options["sasl_plain_username"],
        password=options["sasl_plain_password"],
        ssl_context=context,
        mechanism=conf.sasl_mechanism,
    )
