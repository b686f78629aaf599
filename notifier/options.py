"""Strict option checking for channel and routing entries: unknown keys are errors.

Every message names where (file and key path) and what was expected, like the
rest of Gamsi's configuration.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from gamsi import durations
from gamsi.config_fields import ConfigError


def check_keys(options: Mapping[str, Any], allowed: Iterable[str], where: str) -> None:
    allowed = set(allowed)
    unknown = sorted(set(options) - allowed)
    if unknown:
        raise ConfigError(
            f"{where}: unknown key {unknown[0]!r}; expected one of {', '.join(sorted(allowed))}"
        )


def get_str(options: Mapping[str, Any], key: str, where: str, default: str | None = None) -> str:
    value = options.get(key, default)
    if value is None:
        raise ConfigError(f"{where}: {key}: required, expected a string")
    if not isinstance(value, str):
        raise ConfigError(f"{where}: {key}: expected a string, got {value!r}")
    return value


def get_bool(options: Mapping[str, Any], key: str, where: str, default: bool) -> bool:
    value = options.get(key, default)
    if not isinstance(value, bool):
        raise ConfigError(f"{where}: {key}: expected true or false, got {value!r}")
    return value


def get_int(options: Mapping[str, Any], key: str, where: str, default: int) -> int:
    value = options.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{where}: {key}: expected a whole number, got {value!r}")
    return value


def get_str_map(options: Mapping[str, Any], key: str, where: str) -> dict[str, str]:
    value = options.get(key, {})
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise ConfigError(f"{where}: {key}: expected a mapping of strings, got {value!r}")
    return dict(value)


def get_str_list(options: Mapping[str, Any], key: str, where: str) -> list[str]:
    value = options.get(key, [])
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{where}: {key}: expected a list of strings, got {value!r}")
    return list(value)


def parse_duration(value: Any, where: str) -> float:
    """Seconds from 90, 1.5, '30s', '15m', '2h', '1d' or '250ms' (:mod:`gamsi.durations`)."""
    try:
        return durations.parse_duration(value)
    except ValueError as exc:
        raise ConfigError(f"{where}: {exc}") from None
