"""The building blocks of a settings section, shared by every stage's ``config.py``.

Each stage declares its own section (``gamsi.collector.config.CollectorSettings``,
``gamsi.streams.config.StreamsSettings``, ...) as a frozen dataclass whose fields are
made with :func:`opt`; :mod:`gamsi.settings` assembles the sections, loads them from
TOML and the environment, and documents them. This module imports nothing from
Gamsi, so a stage's configuration never imports another stage (no import cycles).
"""

from __future__ import annotations

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
