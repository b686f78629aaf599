"""The ``[http]`` section: limits shared by every HTTP endpoint Gamsi serves.

The ack API (notifier), the history query endpoint, the web service and every
``/metrics`` endpoint apply these through :mod:`gamsi.http_guard`. Each endpoint's
token is a setting of its own stage (``[notifier] api_token``, ``[history]
query_token``, ...), read with :func:`endpoint_token`. This module imports no HTTP
library, so the slim collector install can load settings without aiohttp.
"""

from __future__ import annotations

from dataclasses import dataclass

from gamsi.config_fields import ConfigError, opt
from gamsi.files import read_secret_file


@dataclass(frozen=True)
class HttpSettings:
    """Connection and request bounds of Gamsi's HTTP endpoints (each service applies its own)."""

    max_connections: int = opt(
        256,
        "Open connections one endpoint accepts; beyond it a new connection gets HTTP 503 "
        "and is closed. Keep it well below the service's LimitNOFILE.",
    )
    header_timeout: float = opt(
        10.0,
        "Seconds a connection has to send a complete request head, counted from its first "
        "byte (or from opening); slower ones are closed.",
    )
    idle_timeout: float = opt(
        60.0, "Seconds an idle (keep-alive) connection is kept open between requests."
    )
    request_timeout: float = opt(
        130.0,
        "Seconds one request may take, reading its body included (a long-lived stream such "
        "as the status page's live updates is exempt); beyond it HTTP 408.",
    )
    allowed_hosts: list[str] = opt(
        [],
        "Host names (Host header) the endpoints answer besides 127.0.0.1, localhost and ::1, "
        "e.g. the name a reverse proxy forwards. Anything else is refused (DNS rebinding).",
    )

    metrics_token: str = opt(
        "",
        "Bearer token of the /metrics endpoints of services without an endpoint of their own "
        "(stream worker, remediator); the others use their endpoint's token. /health is open.",
        secret=True,
    )
    metrics_token_file: str = opt("", "File holding metrics_token (first line).")

    def __post_init__(self) -> None:
        if self.max_connections < 1:
            raise ConfigError(
                f"[http] max_connections: expected at least 1, got {self.max_connections}"
            )
        for key in ("header_timeout", "idle_timeout", "request_timeout"):
            if not getattr(self, key) > 0:
                raise ConfigError(f"[http] {key}: expected seconds > 0, got {getattr(self, key)}")


def endpoint_token(value: str, file: str, where: str) -> str:
    """An endpoint's bearer token: ``value`` if set, else the first line of ``file``, else ''.

    ``where`` names the pair, e.g. ``[notifier] api_token``; a file that cannot be
    read raises ConfigError naming ``<where>_file`` (never the content).
    """
    if value:
        return value
    if file:
        return read_secret_file(file, f"{where}_file")
    return ""
