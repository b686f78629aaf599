"""The console channel: prints each notification, for local use and the walking skeleton."""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping
from typing import Any

from gamsi.notifier.channels import Receipt, register
from gamsi.notifier.message import Notification
from gamsi.notifier.options import check_keys, get_str
from gamsi.notifier.secrets import Secrets
from gamsi.settings import ConfigError
from gamsi.terminal import printable

log = logging.getLogger("gamsi.notifier.console")


@register("console")
class ConsoleChannel:
    """Writes the plain text to stdout (``stream: stdout``) or the log (``stream: log``).

    Control characters in the text are escaped (:func:`gamsi.terminal.printable`); the
    body's own line breaks are kept, the route and recipient line keeps none."""

    def __init__(self, name: str, options: Mapping[str, Any], secrets: Secrets) -> None:
        where = f"channels.{name}"
        check_keys(options, {"type", "stream"}, where)
        self.name = name
        self.stream = get_str(options, "stream", where, "stdout")
        if self.stream not in {"stdout", "log"}:
            raise ConfigError(f"{where}: stream: expected stdout or log, got {self.stream!r}")

    async def send(self, notification: Notification) -> Receipt:
        text = printable(notification.text(), keep_newlines=True)
        if self.stream == "log":
            log.warning("%s", text)
        else:
            head = printable(f"{notification.route} → {notification.recipient}")
            sys.stdout.write(f"--- {head}\n{text}\n")
            sys.stdout.flush()
        return Receipt(ref=notification.thread_ref or notification.key)

    async def close(self) -> None:
        return None
