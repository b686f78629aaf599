"""The building blocks of a settings section, shared by every stage's ``config.py``.

:func:`opt` declares a field, :func:`coerce` checks a value read for it.

Each stage declares its own section (``gamsi.collector.config.CollectorSettings``,
``gamsi.streams.config.StreamsSettings``, ...) as a frozen dataclass whose fields are
made with :func:`opt`; :mod:`gamsi.settings` assembles the sections, loads them from
TOML and the environment, and documents them. This module imports nothing from
Gamsi, so a stage's configuration never imports another stage (no import cycles).
"""

from __future__ import annotations

import typing
from dataclasses import field
from typing import Any


class ConfigError(ValueError):
    """A configuration value is wrong; the message names where and what was expected."""


def opt(default: Any, help: str, *, secret: bool = False) -> Any:
    """A settings field: its default, its one-paragraph ``help`` and whether it is secret.

    ``help`` is the field's documentation (``gamsi config show``, docs/configuration.md);
    a ``secret`` field's value is masked wherever settings are shown. A list default is
    copied for each instance.
    """
    meta = {"help": help, "secret": secret}
    if isinstance(default, list):
        return field(default_factory=lambda: list(default), metadata=meta)
    return field(default=default, metadata=meta)


def coerce(value: Any, annotation: Any, where: str, parse: bool) -> Any:
    """``value`` checked against a field's type (str, int, float, bool, list[str]).

    With ``parse`` (environment variables) strings are converted: ``"6"`` → 6,
    ``"yes"`` → True, ``"a, b"`` → ["a", "b"]; without it (TOML) the value must
    already have the type. Raises :class:`ConfigError` ``WHERE: expected ..., got ...``.
    """
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
