"""Gamsi's settings: one typed, documented, strictly validated configuration.

Settings come from three layers, later ones winning: the defaults declared below,
a TOML file (``--config``, ``$GAMSI_CONFIG`` or ``./gamsi.toml``), and environment
variables named ``GAMSI_<SECTION>_<KEY>`` (``GAMSI_KAFKA_BOOTSTRAP``). Unknown
sections and keys are errors, never silently ignored: a typo in a monitoring
system's config is an outage nobody notices. Each field's ``help`` is its
documentation; ``gamsi config show`` and docs/configuration.md are built from it.
"""

from __future__ import annotations

import os
import socket
import tomllib
import typing
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

CONFIG_ENV = "GAMSI_CONFIG"


class ConfigError(ValueError):
    """A configuration value is wrong; the message names where and what was expected."""


def _opt(default: Any, help: str, *, secret: bool = False) -> Any:
    meta = {"help": help, "secret": secret}
    if isinstance(default, list):
        return field(default_factory=lambda: list(default), metadata=meta)
    return field(default=default, metadata=meta)


def _default_data_dir() -> str:
    return str(Path(os.environ.get("XDG_DATA_HOME", Path.home() / ".local/share")) / "gamsi")


def _default_cache_dir() -> str:
    return str(Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "gamsi")


@dataclass(frozen=True)
class PathSettings:
    data_dir: str = _opt(
        _default_data_dir(),
        "Where Gamsi keeps state: the local broker's log, the embedded ClickHouse store, "
        "service logs. Never inside the repository.",
    )
    cache_dir: str = _opt(
        _default_cache_dir(),
        "Where downloaded artefacts live (the Kafka broker's jars from Maven Central).",
    )


@dataclass(frozen=True)
class KafkaSettings:
    bootstrap: str = _opt("127.0.0.1:9092", "Kafka bootstrap servers, comma separated.")
    metrics_topic: str = _opt("gamsi.metrics", "Topic the collectors publish metric batches to.")
    events_topic: str = _opt("gamsi.events", "Topic of severity events (every transition).")
    deadletter_topic: str = _opt(
        "gamsi.deadletter", "Topic where malformed messages go, wrapped with the reason."
    )
    policies_topic: str = _opt(
        "gamsi.policies",
        "Compacted topic of applied watch policies (`gamsi policy apply`); workers follow it.",
    )
    partitions: int = _opt(
        6,
        "Partitions of the metrics and events topics. Hosts are the key, so this bounds how "
        "many stream workers can share the load.",
    )
    replication: int = _opt(1, "Replication factor of Gamsi's topics (1 on a single broker).")


@dataclass(frozen=True)
class BrokerSettings:
    """The local single-node broker that `gamsi kafka start` runs (not used in production)."""

    kafka_version: str = _opt(
        "3.9.1", "Apache Kafka version resolved from Maven Central (org.apache.kafka:kafka_2.13)."
    )
    port: int = _opt(9092, "Client port of the local broker, on 127.0.0.1.")
    controller_port: int = _opt(9093, "KRaft controller port of the local broker, on 127.0.0.1.")
    heap: str = _opt("512m", "JVM heap (-Xmx) of the local broker.")
    start_timeout: float = _opt(90.0, "Seconds to wait for the broker to answer after start.")


@dataclass(frozen=True)
class CollectorSettings:
    host: str = _opt(socket.gethostname(), "Name this server reports under.")
    tags: list[str] = _opt([], "Tags/groups of this server, used by watches and routing.")
    interval: float = _opt(10.0, "Seconds between collections; 1 s is supported.")
    inputs: list[str] = _opt(
        [
            *("cpu", "load", "memory", "swap", "disk", "diskio"),
            *("net", "proc", "system", "fd", "clock", "command"),
        ],
        "Inputs to run, by registered name (built-ins and gamsi.collector_inputs entry points).",
    )
    processes: list[str] = _opt(
        [], "Process names to watch: proc.up (1/0), proc.cpu_pct, proc.rss_bytes per name."
    )
    disk_exclude_mounts: list[str] = _opt(
        ["/snap/*", "/var/lib/docker/*", "/run/*"], "Mountpoint globs the disk input skips."
    )
    disk_exclude_fstypes: list[str] = _opt(
        ["tmpfs", "devtmpfs", "squashfs", "overlay", "iso9660", "nsfs", "autofs"],
        "Filesystem types the disk input skips (pseudo and read-only image filesystems).",
    )
    diskio_exclude: str = _opt(
        r"^(ram|loop|fd|zram|(h|s|v|xv)d[a-z]+|nvme\d+n\d+p|mmcblk\d+p)\d+$",
        "Regular expression of block devices the diskio input skips (RAM disks, loops, "
        "partitions: the whole disk is reported). Same default as node_exporter.",
    )
    net_exclude: list[str] = _opt(["lo"], "NIC name globs the net input skips.")
    commands: list[str] = _opt(
        [],
        "Custom command items, like Zabbix UserParameter: 'item.name: /path/prog arg ...'. "
        "The words are split like a shell would but no shell runs; stdout must be one number.",
    )
    command_timeout: float = _opt(
        5.0, "Seconds a custom command may run before it is killed (less than interval)."
    )
    spool_dir: str = _opt("", "Offline spool directory; empty means <data_dir>/spool.")
    spool_max_bytes: int = _opt(
        64 * 1024 * 1024,
        "Size bound of the offline spool; when full the oldest batches are dropped and "
        "counted (collector.spool_dropped).",
    )
    publish_timeout: float = _opt(
        5.0, "Seconds to wait for Kafka to acknowledge a batch before spooling it."
    )

    def __post_init__(self) -> None:
        if self.interval < 1.0:
            raise ConfigError(f"[collector] interval: expected at least 1.0 s, got {self.interval}")
        if self.commands and not 0 < self.command_timeout < self.interval:
            raise ConfigError(
                f"[collector] command_timeout: expected more than 0 and less than interval "
                f"({self.interval} s), got {self.command_timeout}"
            )
        if self.spool_max_bytes < 64 * 1024:
            raise ConfigError(
                f"[collector] spool_max_bytes: expected at least 65536, got {self.spool_max_bytes}"
            )
        import re  # local: edits to this file stay inside this class

        try:
            re.compile(self.diskio_exclude)
        except re.error as exc:
            raise ConfigError(
                f"[collector] diskio_exclude: expected a regular expression: {exc}"
            ) from None
        for i, entry in enumerate(self.commands):
            name, sep, argv = entry.partition(":")
            if not sep or not name.strip() or "." not in name or not argv.strip():
                raise ConfigError(
                    f"[collector] commands[{i}]: expected 'item.name: /path/to/program args', "
                    f"got {entry!r}"
                )


@dataclass(frozen=True)
class StreamsSettings:
    app_id: str = _opt(
        "gamsi-streams",
        "Faust application id: the consumer group and the prefix of its changelog topics.",
    )
    session_timeout: float = _opt(
        10.0,
        "Seconds after which a worker that stopped heartbeating (crashed, killed, cut off) "
        "loses its partitions to the others. Faust's default is 60 s; a monitoring "
        "pipeline should fail over faster.",
    )
    tick_interval: float = _opt(
        5.0,
        "Seconds between timer ticks (no-data detection). A silent collector is noticed "
        "within its watch's no-data timeout plus this.",
    )
    policy_path: str = _opt(
        "",
        "Watch policy: a YAML file or a directory of *.yaml files (read in name order). "
        "Empty means the shipped OS defaults alone. See docs/policies.md.",
    )
    default_os: str = _opt(
        "linux",
        "OS assumed for hosts whose collector does not report one (linux, windows, darwin).",
    )
    inventory_file: str = _opt(
        "",
        "JSON inventory of what each host reports (items, instances, OS, tags) for "
        "`gamsi policy unregistered`. Empty means: read it from history (the last 24 h).",
    )


@dataclass(frozen=True)
class NotifierSettings:
    group_id: str = _opt("gamsi-notifier", "Consumer group of the notifier on the events topic.")
    ack_port: int = _opt(
        8125,
        "Port of the acknowledgement API (POST /ack/<event_id>) on 127.0.0.1; 0 turns it off.",
    )
    slack_token: str = _opt(
        "",
        "Slack bot token. Prefer GAMSI_NOTIFIER_SLACK_TOKEN or slack_token_file; "
        "never shown in logs or errors.",
        secret=True,
    )
    slack_token_file: str = _opt("", "File holding the Slack bot token (first line).")
    slack_channel: str = _opt("#gamsi", "Slack channel that receives severity events.")
    slack_base_url: str = _opt(
        "https://slack.com/api/", "Slack Web API base URL (a local stand-in in tests)."
    )
    dashboard_url: str = _opt("", "Link shown in messages, e.g. the status page.")
    routing_file: str = _opt(
        "",
        "YAML routing file (channels, recipients, routes, maintenance; docs/notifications.md). "
        "Empty: every event goes to slack_channel if a Slack token is set, else to the console.",
    )
    storm_window: float = _opt(
        0.1,
        "Seconds during which events for the same route and contact are grouped into one "
        "message (a route's group_window overrides it). Larger groups more, notifies later.",
    )
    delivery_topic: str = _opt(
        "gamsi.deliveries", "Topic of delivery outcomes (the history writer's deliveries table)."
    )
    ledger_topic: str = _opt(
        "gamsi.notifier.ledger",
        "Compacted topic of idempotency keys, threads and open problems: what makes each "
        "event notified exactly once per route across restarts.",
    )
    acks_topic: str = _opt(
        "gamsi.acks", "Topic of acknowledgements (`gamsi ack EVENT` writes, the notifier reads)."
    )
    retry_attempts: int = _opt(5, "Attempts per message before it is logged as failed.")
    retry_delay: float = _opt(
        1.0, "Seconds before the first retry; doubles per attempt (a 429's Retry-After wins)."
    )
    tick_interval: float = _opt(
        1.0, "Seconds between checks for due re-notifications and escalation steps."
    )

    def resolved_slack_token(self) -> str:
        """The token from the setting or its file, so that neither lands in logs."""
        if self.slack_token:
            return self.slack_token
        if self.slack_token_file:
            path = Path(self.slack_token_file).expanduser()
            try:
                return path.read_text().strip().splitlines()[0]
            except (OSError, IndexError) as exc:
                raise ConfigError(
                    f"[notifier] slack_token_file: cannot read a token from {path}: "
                    f"{type(exc).__name__}"
                ) from None
        return ""


@dataclass(frozen=True)
class HistorySettings:
    dsn: str = _opt(
        "",
        "ClickHouse DSN. Empty means the embedded engine: chdb://<data_dir>/chdb. "
        "A server is http://user:pass@host:8123/db.",
    )
    group_id: str = _opt("gamsi-history", "Consumer group of the history writer.")
    batch_rows: int = _opt(50_000, "Rows buffered before an insert.")
    flush_interval: float = _opt(1.0, "Seconds between inserts when the buffer is not full.")
    raw_ttl_days: int = _opt(30, "Days raw samples are kept (ClickHouse TTL).")
    rollup_ttl_days: int = _opt(
        400, "Days the 1-minute rollup (avg/min/max per host, item, instance) is kept."
    )
    deliveries_topic: str = _opt(
        "",
        "Topic of the notifier's delivery records. Empty means [notifier] delivery_topic "
        "when that setting exists, else gamsi.deliveries.",
    )
    query_port: int = _opt(
        8124,
        "Port of the history service's read-only query endpoint on 127.0.0.1. chDB lets one "
        "process own the store, so other processes query through it. 0 serves none.",
    )

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


@dataclass(frozen=True)
class Settings:
    paths: PathSettings = field(default_factory=PathSettings)
    kafka: KafkaSettings = field(default_factory=KafkaSettings)
    broker: BrokerSettings = field(default_factory=BrokerSettings)
    collector: CollectorSettings = field(default_factory=CollectorSettings)
    streams: StreamsSettings = field(default_factory=StreamsSettings)
    notifier: NotifierSettings = field(default_factory=NotifierSettings)
    history: HistorySettings = field(default_factory=HistorySettings)

    @property
    def data_dir(self) -> Path:
        return Path(self.paths.data_dir).expanduser()

    @property
    def cache_dir(self) -> Path:
        return Path(self.paths.cache_dir).expanduser()

    def history_dsn(self) -> str:
        return self.history.dsn or f"chdb://{self.data_dir / 'chdb'}"


def _coerce(value: Any, annotation: Any, where: str, parse: bool) -> Any:
    """Check a value against a field's type; env strings are parsed, TOML values are not."""
    origin = typing.get_origin(annotation)
    if origin is list:
        if parse and isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{where}: expected a list of strings, got {value!r}")
        return value
    if annotation is bool:
        if (
            parse
            and isinstance(value, str)
            and value.lower() in {"1", "true", "yes", "0", "false", "no"}
        ):
            return value.lower() in {"1", "true", "yes"}
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: expected true or false, got {value!r}")
        return value
    if annotation in (int, float):
        if parse and isinstance(value, str):
            try:
                value = annotation(value)
            except ValueError:
                raise ConfigError(
                    f"{where}: expected {annotation.__name__}, got {value!r}"
                ) from None
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{where}: expected {annotation.__name__}, got {value!r}")
        if annotation is int and not isinstance(value, int):
            raise ConfigError(f"{where}: expected a whole number, got {value!r}")
        return annotation(value)
    if annotation is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where}: expected a string, got {value!r}")
        return value
    raise TypeError(f"unsupported setting type {annotation!r}")  # a bug in this module


def _section_types() -> dict[str, type]:
    hints = typing.get_type_hints(Settings)
    return {f.name: hints[f.name] for f in fields(Settings)}


def _field_types(section_cls: type) -> dict[str, Any]:
    hints = typing.get_type_hints(section_cls)
    return {f.name: hints[f.name] for f in fields(section_cls)}


def _apply(
    settings: Settings, source: dict[str, dict[str, Any]], origin: str, *, from_env: bool
) -> Settings:
    """Layer values over settings; environment strings are parsed, TOML values must be typed."""
    sections = _section_types()
    updated: dict[str, Any] = {}
    for section, values in source.items():
        if section not in sections:
            raise ConfigError(
                f"{origin}: unknown section [{section}]; expected one of {sorted(sections)}"
            )
        if not isinstance(values, dict):
            raise ConfigError(f"{origin}: [{section}] must be a table of keys")
        cls = sections[section]
        types_ = _field_types(cls)
        changes = {}
        for key, raw in values.items():
            if key not in types_:
                raise ConfigError(
                    f"{origin}: [{section}] {key}: unknown key; expected one of {sorted(types_)}"
                )
            changes[key] = _coerce(raw, types_[key], f"{origin}: [{section}] {key}", parse=from_env)
        try:
            updated[section] = replace(getattr(settings, section), **changes)
        except ConfigError as exc:
            raise ConfigError(f"{origin}: {exc}") from None
    return replace(settings, **updated)


def _env_layer(environ: typing.Mapping[str, str]) -> dict[str, dict[str, Any]]:
    layer: dict[str, dict[str, Any]] = {}
    sections = _section_types()
    for section, cls in sections.items():
        for key in _field_types(cls):
            name = f"GAMSI_{section.upper()}_{key.upper()}"
            if name in environ:
                layer.setdefault(section, {})[key] = environ[name]
    return layer


def load_settings(
    path: str | Path | None = None, environ: typing.Mapping[str, str] | None = None
) -> Settings:
    """Defaults, then the TOML file, then GAMSI_* environment variables."""
    environ = os.environ if environ is None else environ
    settings = Settings()
    chosen = (
        path or environ.get(CONFIG_ENV) or ("gamsi.toml" if Path("gamsi.toml").exists() else None)
    )
    if chosen:
        file = Path(chosen)
        try:
            data = tomllib.loads(file.read_text())
        except FileNotFoundError:
            raise ConfigError(f"{file}: no such configuration file") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{file}: not valid TOML: {exc}") from None
        settings = _apply(settings, data, str(file), from_env=False)
    return _apply(settings, _env_layer(environ), "environment", from_env=True)


def describe(settings: Settings) -> list[tuple[str, str, Any, str]]:
    """(section, key, value, help) rows with secrets masked, for `gamsi config show`."""
    rows = []
    for sec in fields(settings):
        section = getattr(settings, sec.name)
        for f in fields(section):
            value = getattr(section, f.name)
            if f.metadata.get("secret") and value:
                value = "***"
            rows.append((sec.name, f.name, value, f.metadata.get("help", "")))
    return rows


__all__ = ["ConfigError", "Settings", "describe", "load_settings", "to_environ"]


def to_environ(settings: Settings) -> dict[str, str]:
    """The GAMSI_* variables that reproduce these settings in a child process."""
    env = {}
    for sec in fields(settings):
        section = getattr(settings, sec.name)
        for f in fields(section):
            value = getattr(section, f.name)
            if isinstance(value, list):
                value = ",".join(value)
            env[f"GAMSI_{sec.name.upper()}_{f.name.upper()}"] = str(value)
    return env
