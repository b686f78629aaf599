"""Secrets for channels: read from environment variables or files, never from the routing file.

A channel option that is a secret (a token, a password) is given as ``<key>_env``
(the name of an environment variable) or ``<key>_file`` (a file whose first line
is the value, read by :func:`gamsi.files.read_secret_file`). Every value resolved
here is remembered so that :meth:`redact` (and the log filter built on it) can
blank it out of any error text or log line before it leaves the process.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import Any

from gamsi.config_fields import ConfigError
from gamsi.files import read_secret_file
from gamsi.masking import mask

MASK = "***"


class SecretError(ConfigError):
    """A secret option is missing or unreadable; the message names where, never the value."""


class Secrets:
    """Resolves and remembers secret values so they can be redacted everywhere."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        self._environ = os.environ if environ is None else environ
        self._values: set[str] = set()

    def add(self, value: str) -> str:
        if value:
            self._values.add(value)
        return value

    def resolve(self, options: Mapping[str, Any], key: str, where: str, *, required: bool) -> str:
        """The value of ``<key>_env`` or ``<key>_file`` ('' when absent and optional)."""
        if key in options:
            raise SecretError(
                f"{where}: {key}: secrets are not written in the routing file; "
                f"use {key}_env (an environment variable name) or {key}_file (a file path)"
            )
        env_name = options.get(f"{key}_env")
        file_name = options.get(f"{key}_file")
        if env_name:
            value = self._environ.get(str(env_name), "")
            if not value:
                raise SecretError(f"{where}: {key}_env: environment variable {env_name} is empty")
            return self.add(value.strip())
        if file_name:
            try:
                return self.add(read_secret_file(str(file_name), f"{where}: {key}_file"))
            except ConfigError as exc:
                raise SecretError(str(exc)) from None
        if required:
            raise SecretError(f"{where}: expected {key}_env or {key}_file")
        return ""

    def redact(self, text: str) -> str:
        """``text`` with every resolved secret value, and any credential in a URL, masked."""
        for value in sorted(self._values, key=len, reverse=True):
            text = text.replace(value, MASK)
        return mask(text)

    def log_filter(self) -> logging.Filter:
        """A filter that redacts secrets from every record a handler emits."""
        secrets = self

        class _Redact(logging.Filter):
            def filter(self, record: logging.LogRecord) -> bool:
                message = record.getMessage()
                clean = secrets.redact(message)
                if clean != message:
                    record.msg, record.args = clean, None
                return True

        return _Redact()


def secret_keys(options: Mapping[str, Any], key: str) -> set[str]:
    """The option names a secret may use, for strict unknown-key checks."""
    return {f"{key}_env", f"{key}_file"}
