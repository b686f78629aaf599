"""The channel contract, the registry of channel types and the errors a channel raises.

A channel does one thing: ``await send(notification)``. It either returns a
:class:`Receipt` or raises :class:`RetryableError` (try again later, maybe after
``retry_after`` seconds) or :class:`PermanentError` (trying again cannot help).
Retry, backoff, rate limits and deduplication live once in the pipeline
(:mod:`gamsi.notifier.retry`), never in a channel, as in Alertmanager's
``Notify() (recoverable bool, err error)``.

Each channel module registers one type with ``@register("name")`` in its own
file; third-party packages add types through the ``gamsi.channels`` entry point
group. The rules (a name registered twice is an error, never a silent override;
how entry points load) are those of every Gamsi plugin: :mod:`gamsi.plugins`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from gamsi.notifier.message import Notification
from gamsi.notifier.secrets import Secrets
from gamsi.plugins import Registry

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "gamsi.channels"
BUILTIN_MODULES = ("console", "slack", "email", "webhook", "sms", "kakao", "ntfy")


class ChannelError(Exception):
    """A delivery failed. The text never contains a secret (channels redact it)."""


class RetryableError(ChannelError):
    """The same send may succeed later (timeouts, 5xx, 429, SMTP 4xx)."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PermanentError(ChannelError):
    """Sending again cannot help (bad token, unknown channel, 4xx, SMTP 5xx)."""


@dataclass(frozen=True)
class Receipt:
    """What a successful send returns: a reference to thread later messages under."""

    ref: str = ""


class Channel(Protocol):
    """A configured channel instance (one entry under ``channels:`` in the routing file)."""

    name: str

    async def send(self, notification: Notification) -> Receipt: ...

    async def close(self) -> None: ...


ChannelFactory = Callable[[str, Mapping[str, Any], Secrets], Channel]
"""Builds a channel from its name, its options (validated by the factory) and the secrets."""

REGISTRY: Registry[ChannelFactory] = Registry(
    "channel type", ENTRY_POINT_GROUP, [f"{__name__}.{m}" for m in BUILTIN_MODULES]
)
CHANNEL_TYPES, register, load_channel_types = REGISTRY.plugins, REGISTRY.register, REGISTRY.load
"""Channel types by name (a routing file's ``type:``); ``@register("type")``; loading."""


def classify_status(status: int, what: str, retry_after: float | None = None) -> ChannelError:
    """The one HTTP status table every HTTP channel uses (pinned by the contract tests).

    429 and 408 and every 5xx are retryable; every other 4xx is permanent, because
    a bad request or a refused credential does not get better by waiting.
    """
    if status == 429 or status == 408 or status >= 500:
        return RetryableError(f"{what}: HTTP {status}", retry_after=retry_after)
    return PermanentError(f"{what}: HTTP {status}")


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (Slack sends whole seconds)."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


__all__ = [
    "CHANNEL_TYPES",
    "Channel",
    "ChannelError",
    "PermanentError",
    "Receipt",
    "RetryableError",
    "classify_status",
    "load_channel_types",
    "parse_retry_after",
    "register",
]
