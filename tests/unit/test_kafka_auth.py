"""The [kafka] security settings and the client options every Gamsi client is built with."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest

from gamsi.config_fields import ConfigError
from gamsi.kafka_auth import faust_credentials, kafka_client_options
from gamsi.settings import describe, load_settings


def test_plaintext_is_the_default_and_adds_nothing() -> None:
    settings = load_settings(environ={"GAMSI_KAFKA_BOOTSTRAP": "k1:9092,k2:9092"})
    assert kafka_client_options(settings) == {"bootstrap_servers": "k1:9092,k2:9092"}
    assert faust_credentials(settings) is None


def test_sasl_ssl_from_the_environment_with_a_password_file(tmp_path: Path) -> None:
    secret = tmp_path / "kafka.password"
    secret.write_text("pw-from-file\n")
    settings = load_settings(
        environ={
            "GAMSI_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
            "GAMSI_KAFKA_SASL_USERNAME": "gamsi-notifier",
            "GAMSI_KAFKA_SASL_PASSWORD_FILE": str(secret),
        }
    )
    options = kafka_client_options(settings)
    assert options["security_protocol"] == "SASL_SSL"
    assert options["sasl_mechanism"] == "SCRAM-SHA-512"
    assert (options["sasl_plain_username"], options["sasl_plain_password"]) == (
        "gamsi-notifier",
        "pw-from-file",
    )
    context = options["ssl_context"]
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname
    credentials = faust_credentials(settings)
    assert (credentials.username, credentials.mechanism.value) == (
        "gamsi-notifier",
        "SCRAM-SHA-512",
    )
    assert credentials.protocol.value == "SASL_SSL"


def test_the_password_is_never_shown() -> None:
    settings = load_settings(environ={"GAMSI_KAFKA_SASL_PASSWORD": "pw-in-env-123"})
    rows = {(s, k): v for s, k, v, _ in describe(settings)}
    assert rows["kafka", "sasl_password"] == "***"


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"GAMSI_KAFKA_SECURITY_PROTOCOL": "TLS"}, "[kafka] security_protocol: expected one of"),
        ({"GAMSI_KAFKA_SASL_MECHANISM": "GSSAPI"}, "[kafka] sasl_mechanism: expected one of"),
        (
            {
                "GAMSI_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
                "GAMSI_KAFKA_SASL_MECHANISM": "PLAIN",
            },
            "PLAIN sends the password in clear text",
        ),
        ({"GAMSI_KAFKA_SSL_CERTFILE": "/c.pem"}, "ssl_certfile and ssl_keyfile: give both"),
    ],
)
def test_a_wrong_setting_is_one_clear_line(environ: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        load_settings(environ=environ)


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"GAMSI_KAFKA_SECURITY_PROTOCOL": "SASL_SSL"}, "[kafka] sasl_username"),
        (
            {"GAMSI_KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "GAMSI_KAFKA_SASL_USERNAME": "u"},
            "[kafka] sasl_password",
        ),
        (
            {"GAMSI_KAFKA_SECURITY_PROTOCOL": "SSL", "GAMSI_KAFKA_SSL_CAFILE": "/nowhere/ca.pem"},
            "[kafka] ssl files: cannot load",
        ),
    ],
)
def test_missing_credentials_are_named_when_a_client_is_built(
    environ: dict[str, str], message: str
) -> None:
    settings = load_settings(environ=environ)
    with pytest.raises(ConfigError) as info:
        kafka_client_options(settings)
    assert str(info.value).startswith(message)
