"""Gamsi's settings: one typed, documented, strictly validated configuration.

Settings come from three layers, later ones winning: the declared defaults, a TOML
file (``--config``, ``$GAMSI_CONFIG`` or ``./gamsi.toml``), and environment
variables named ``GAMSI_<SECTION>_<KEY>`` (``GAMSI_KAFKA_BOOTSTRAP``). Unknown
sections and keys are errors, never silently ignored: a typo in a monitoring
system's config is an outage nobody notices. Each field's ``help`` is its
documentation; ``gamsi config show`` and docs/configuration.md are built from it.

Where each section is declared: the platform's own (``[paths]``, ``[kafka]``,
``[broker]``) here; each stage's in that stage's ``config.py``
(``gamsi.collector.config``, ``gamsi.streams.config``, ``gamsi.notifier.config``,
``gamsi.history.config``), built from :func:`gamsi.config_fields.opt`. A new stage adds
its section class there and one field to :class:`Settings`. This module stays the
public entry: the section classes and :class:`ConfigError` are re-exported from it.
"""

from __future__ import annotations

import os
import typing
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from gamsi.collector.config import CollectorSettings
from gamsi.config_fields import ConfigError, coerce, opt
from gamsi.files import read_toml
from gamsi.history.config import HistorySettings
from gamsi.http_config import HttpSettings
from gamsi.kafka_auth import KafkaSecuritySettings
from gamsi.masking import mask_setting
from gamsi.notifier.config import NotifierSettings
from gamsi.remediator.config import RemediatorSettings
from gamsi.streams.config import StreamsSettings
from gamsi.web.config import WebSettings

CONFIG_ENV = "GAMSI_CONFIG"


def _default_data_dir() -> str:
    return str(Path(os.environ.get("XDG_DATA_HOME", Path.home() / ".local/share")) / "gamsi")


def _default_cache_dir() -> str:
    return str(Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "gamsi")


@dataclass(frozen=True)
class PathSettings:
    data_dir: str = opt(
        _default_data_dir(),
        "Where Gamsi keeps state: the local broker's log, the embedded ClickHouse store, "
        "service logs. Never inside the repository.",
    )
    cache_dir: str = opt(
        _default_cache_dir(),
        "Where downloaded artefacts live (the Kafka broker's jars from Maven Central).",
    )


@dataclass(frozen=True)
class KafkaSettings(KafkaSecuritySettings):
    bootstrap: str = opt("127.0.0.1:9092", "Kafka bootstrap servers, comma separated.")
    metrics_topic: str = opt("gamsi.metrics", "Topic the collectors publish metric batches to.")
    events_topic: str = opt("gamsi.events", "Topic of severity events (every transition).")
    deadletter_topic: str = opt(
        "gamsi.deadletter", "Topic where malformed messages go, wrapped with the reason."
    )
    policies_topic: str = opt(
        "gamsi.policies",
        "Compacted topic of applied watch policies (`gamsi policy apply`); workers follow it.",
    )
    partitions: int = opt(
        6,
        "Partitions of the metrics and events topics. Hosts are the key, so this bounds how "
        "many stream workers can share the load.",
    )
    replication: int = opt(
        0,
        "Replication factor of Gamsi's topics. 0: automatic, min(3, brokers in the cluster), "
        "read from the cluster when the topics are created; topics with 3 or more copies get "
        "min.insync.replicas 2 (else 1). A value above the cluster's brokers is refused.",
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.replication < 0:
            raise ConfigError(
                f"[kafka] replication: expected 0 (automatic) or a positive number of copies, "
                f"got {self.replication}"
            )


@dataclass(frozen=True)
class BrokerSettings:
    """The local broker or cluster that `gamsi kafka start` runs (not used in production)."""

    kafka_version: str = opt(
        "3.9.1", "Apache Kafka version resolved from Maven Central (org.apache.kafka:kafka_2.13)."
    )
    nodes: int = opt(
        1,
        "Nodes of the local cluster (KRaft; each node broker and controller, with its own "
        "process and data directory `<data_dir>/kafka/node-<i>`); 1 is the single broker in "
        "`<data_dir>/kafka`. "
        "`gamsi kafka start --nodes N` overrides it.",
    )
    port: int = opt(
        9092, "Client port of the local broker, on 127.0.0.1; node i uses port + 2*(i-1)."
    )
    controller_port: int = opt(
        9093, "KRaft controller port, on 127.0.0.1; node i uses controller_port + 2*(i-1)."
    )
    heap: str = opt("512m", "JVM heap (-Xmx) of each local broker node.")
    start_timeout: float = opt(90.0, "Seconds to wait for the broker to answer after start.")

    def __post_init__(self) -> None:
        if self.nodes < 1:
            raise ConfigError(f"[broker] nodes: expected 1 or more, got {self.nodes}")


@dataclass(frozen=True)
class Settings:
    paths: PathSettings = field(default_factory=PathSettings)
    kafka: KafkaSettings = field(default_factory=KafkaSettings)
    broker: BrokerSettings = field(default_factory=BrokerSettings)
    collector: CollectorSettings = field(default_factory=CollectorSettings)
    streams: StreamsSettings = field(default_factory=StreamsSettings)
    notifier: NotifierSettings = field(default_factory=NotifierSettings)
    history: HistorySettings = field(default_factory=HistorySettings)
    remediator: RemediatorSettings = field(default_factory=RemediatorSettings)
    http: HttpSettings = field(default_factory=HttpSettings)
    web: WebSettings = field(default_factory=WebSettings)

    @property
    def data_dir(self) -> Path:
        return Path(self.paths.data_dir).expanduser()

    @property
    def cache_dir(self) -> Path:
        return Path(self.paths.cache_dir).expanduser()

    def history_dsn(self) -> str:
        return self.history.dsn or f"chdb://{self.data_dir / 'chdb'}"


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
            changes[key] = coerce(raw, types_[key], f"{origin}: [{section}] {key}", parse=from_env)
        try:
            updated[section] = replace(getattr(settings, section), **changes)
        except ConfigError as exc:
            raise ConfigError(f"{origin}: {exc}") from None
    return replace(settings, **updated)


def _env_layer(environ: typing.Mapping[str, str]) -> dict[str, dict[str, Any]]:
    """``GAMSI_<SECTION>_<KEY>`` variables as a layer of settings.

    As strict as the file: a variable naming a known section but no key of it
    (``GAMSI_COLLECTOR_INTERVALL``) is a ConfigError with the closest key, never
    silently ignored. Variables of no section (``GAMSI_CONFIG``, ``GAMSI_TEST_*``)
    are not settings and are left alone."""
    import difflib

    layer: dict[str, dict[str, Any]] = {}
    sections = _section_types()
    known: dict[str, tuple[str, str]] = {}
    for section, cls in sections.items():
        for key in _field_types(cls):
            known[f"GAMSI_{section.upper()}_{key.upper()}"] = (section, key)
    for name, value in environ.items():
        if name in known:
            section, key = known[name]
            layer.setdefault(section, {})[key] = value
            continue
        for section in sections:
            prefix = f"GAMSI_{section.upper()}_"
            if name.startswith(prefix):
                close = difflib.get_close_matches(name, [k for k in known if k.startswith(prefix)])
                hint = f"; did you mean {close[0]}?" if close else ""
                raise ConfigError(f"environment: {name}: no such setting in [{section}]{hint}")
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
        data = read_toml(chosen, "configuration file")
        settings = _apply(settings, data, str(Path(chosen).expanduser()), from_env=False)
    return _apply(settings, _env_layer(environ), "environment", from_env=True)


def describe(settings: Settings) -> list[tuple[str, str, Any, str]]:
    """(section, key, value, help) rows for `gamsi config show`: secret settings shown as
    ``***`` and credentials inside any URL (``[history] dsn``) masked (gamsi.masking)."""
    rows = []
    for sec in fields(settings):
        section = getattr(settings, sec.name)
        for f in fields(section):
            value = mask_setting(getattr(section, f.name), bool(f.metadata.get("secret")))
            rows.append((sec.name, f.name, value, f.metadata.get("help", "")))
    return rows


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


__all__ = [
    "BrokerSettings",
    "CollectorSettings",
    "ConfigError",
    "HistorySettings",
    "KafkaSettings",
    "NotifierSettings",
    "PathSettings",
    "RemediatorSettings",
    "Settings",
    "StreamsSettings",
    "WebSettings",
    "describe",
    "load_settings",
    "to_environ",
]
