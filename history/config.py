"""The history writer's configuration: the ``[history]`` section of gamsi.toml.

Fields are documented by their ``help`` (docs/configuration.md is generated from it);
:mod:`gamsi.settings` loads and layers them. Checks run in ``__post_init__`` and raise
:class:`~gamsi.config_fields.ConfigError` naming the key.
"""

from __future__ import annotations

from dataclasses import dataclass

from gamsi.config_fields import ConfigError, opt


@dataclass(frozen=True)
class HistorySettings:
    """The history writer: the ClickHouse store and its read-only query endpoint."""

    dsn: str = opt(
        "",
        "ClickHouse DSN. Empty means the embedded engine: chdb://<data_dir>/chdb. "
        "A server is http://user:pass@host:8123/db.",
    )
    group_id: str = opt("gamsi-history", "Consumer group of the history writer.")
    batch_rows: int = opt(50_000, "Rows buffered before an insert.")
    flush_interval: float = opt(1.0, "Seconds between inserts when the buffer is not full.")
    raw_ttl_days: int = opt(30, "Days raw samples are kept (ClickHouse TTL).")
    rollup_ttl_days: int = opt(
        400, "Days the 1-minute rollup (avg/min/max per host, item, instance) is kept."
    )
    deliveries_topic: str = opt(
        "",
        "Topic of the notifier's delivery records. Empty means [notifier] delivery_topic "
        "when that setting exists, else gamsi.deliveries.",
    )
    query_port: int = opt(
        8124,
        "Port of the history service's read-only query endpoint on 127.0.0.1. chDB lets one "
        "process own the store, so other processes query through it. 0 serves none.",
    )
    query_token: str = opt(
        "",
        "Bearer token of the query endpoint; when set (or query_token_file), every query "
        "needs it (`gamsi history query` sends it). Empty: loopback callers need none.",
        secret=True,
    )
    query_token_file: str = opt("", "File holding the query endpoint's token (first line).")

    def __post_init__(self) -> None:
        for key in ("batch_rows", "raw_ttl_days", "rollup_ttl_days"):
            if getattr(self, key) < 1:
                raise ConfigError(f"[history] {key}: expected at least 1, got {getattr(self, key)}")
        if self.flush_interval <= 0:
            raise ConfigError(
                f"[history] flush_interval: expected seconds > 0, got {self.flush_interval}"
            )
        if not 0 <= self.query_port < 65536:
            raise ConfigError(
                f"[history] query_port: expected 1..65535 (0: no endpoint), got {self.query_port}"
            )
