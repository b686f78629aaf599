"""The status page's configuration: the ``[web]`` section of gamsi.toml.

Fields are documented by their ``help`` (docs/configuration.md is generated from it);
:mod:`gamsi.settings` loads and layers them; ``__post_init__`` raises ConfigError
naming the key. The connection bounds shared by every endpoint are ``[http]``.
"""

from __future__ import annotations

from dataclasses import dataclass

from gamsi.config_fields import ConfigError, opt


@dataclass(frozen=True)
class WebSettings:
    """The status page (감시 현황): where it listens, who may see it and act on it."""

    host: str = opt(
        "127.0.0.1",
        "Address the status page listens on. Serve other machines through a reverse proxy "
        "and name it in [http] allowed_hosts.",
    )
    port: int = opt(8126, "Port of the status page (`gamsi web run`).")
    token: str = opt(
        "",
        "Bearer token of the status page. When set (or token_file), every view needs it "
        "(the login page stores it in a cookie); acknowledging and registering always need "
        "it. Prefer GAMSI_WEB_TOKEN or token_file.",
        secret=True,
    )
    token_file: str = opt("", "File holding the status page's token (first line).")
    chart_raw_hours: float = opt(
        6.0,
        "A server page's charts draw raw samples for windows up to this many hours and the "
        "1-minute rollup (avg/min/max) beyond.",
    )
    timeline_events: int = opt(500, "Events shown on the fleet's event timeline (newest first).")
    max_streams: int = opt(
        64,
        "Browsers following live updates at once; more get HTTP 503 (each holds a connection "
        "for as long as the page is open).",
    )

    def __post_init__(self) -> None:
        if not 0 < self.port < 65536:
            raise ConfigError(f"[web] port: expected 1..65535, got {self.port}")
        if not self.chart_raw_hours > 0:
            raise ConfigError(
                f"[web] chart_raw_hours: expected hours > 0, got {self.chart_raw_hours}"
            )
        for key in ("timeline_events", "max_streams"):
            if getattr(self, key) < 1:
                raise ConfigError(f"[web] {key}: expected at least 1, got {getattr(self, key)}")
