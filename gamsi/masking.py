"""Secrets never shown: the one function that masks credentials in URLs and in any text.

A DSN such as ``http://gamsi:s3cret@clickhouse:8123/gamsi`` is a setting like any
other, so it reaches ``gamsi config show``, log lines and error messages. Every
place that shows text a user or a log reads passes it through :func:`mask`:

* the password of a URL's user-info (``user:***@host``; the user name stays, it
  says which account is meant), for any scheme (``http``, ``https``,
  ``clickhouse``, ``kafka``, ``chdb`` ...);
* the value of a query parameter whose name says it is a secret
  (``?password=``, ``token``, ``access_token``, ``api_key``, ``secret``,
  ``signature`` ...), as curl's ``--trace`` redaction and Sentry's data scrubber do.

Settings declared ``secret=True`` are masked whole (:func:`mask_setting`); values
a channel resolves from ``*_env``/``*_file`` are masked by value in the notifier
(:class:`gamsi.notifier.secrets.Secrets`). :class:`MaskingFormatter` applies
:func:`mask` to every formatted log line, tracebacks included.
"""

from __future__ import annotations

import logging
import re

MASK = "***"

SECRET_WORDS = frozenset(
    {"password", "passwd", "pwd", "pass", "token", "secret", "signature", "sig", "key",
     "apikey", "auth", "authorization", "credential", "credentials", "accesstoken"}
)  # fmt: skip
"""A query parameter is secret when a word of its name (split at ``-``, ``_``, ``.``,
case-insensitive) is one of these: ``password``, ``api_key``, ``X-Amz-Signature``,
``X-Amz-Security-Token``, ``access_token``; ``keyboard`` or ``db`` are not."""

_URL = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s'\"<>`]+")
_PARAM = re.compile(r"(?P<lead>[?&;])(?P<name>[^=&;#]+)=(?P<value>[^&;#]*)")


def mask_url(url: str) -> str:
    """``url`` with the user-info password and secret query values replaced by ``***``.

    Never raises; text that is not a URL comes back unchanged. Example:
    ``http://u:p@h:8123/db?password=x&db=y`` → ``http://u:***@h:8123/db?password=***&db=y``.
    """
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    cut = min((i for i in map(rest.find, "/?#") if i >= 0), default=len(rest))
    authority, tail = rest[:cut], rest[cut:]
    userinfo, at, host = authority.rpartition("@")  # the last @: a password may hold one
    user, colon, password = userinfo.partition(":")
    if at and colon and password:
        authority = f"{user}:{MASK}@{host}"
    return f"{scheme}://{authority}" + _PARAM.sub(_mask_param, tail)


def _mask_param(m: re.Match[str]) -> str:
    words = re.split(r"[-_.]", m["name"].lower())
    if m["value"] and SECRET_WORDS.intersection(words):
        return f"{m['lead']}{m['name']}={MASK}"
    return m[0]


def mask(text: str) -> str:
    """``text`` with every URL in it masked by :func:`mask_url` (messages, logs, errors)."""
    if "://" not in text:
        return text
    return _URL.sub(lambda m: mask_url(m[0]), text)


def mask_setting(value: object, secret: bool) -> object:
    """A setting's value as shown: ``***`` for a non-empty secret, URLs masked in text."""
    if secret and value:
        return MASK
    if isinstance(value, str):
        return mask(value)
    if isinstance(value, list):
        return [mask(v) if isinstance(v, str) else v for v in value]
    return value


class MaskingFormatter(logging.Formatter):
    """Wraps a handler's formatter and masks the whole formatted record (traceback too)."""

    def __init__(self, inner: logging.Formatter | None = None) -> None:
        super().__init__()
        self._inner = inner or logging.Formatter()

    def format(self, record: logging.LogRecord) -> str:
        return mask(self._inner.format(record))


def install_log_masking(logger: logging.Logger | None = None) -> None:
    """Mask every line the handlers of ``logger`` (default: the root logger) write.

    Idempotent: a handler whose formatter already masks is left as it is.
    """
    for handler in (logger or logging.getLogger()).handlers:
        if not isinstance(handler.formatter, MaskingFormatter):
            handler.setFormatter(MaskingFormatter(handler.formatter))
