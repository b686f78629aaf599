"""Rate-limited logging: one line per kind of message per period, with a count of the rest.

A client library that retries in a loop (aiokafka while the broker is away logs
an ERROR for every connection attempt and metadata refresh) can write thousands
of identical lines a minute: they fill the journal and hide the one line that
says what changed. :class:`RateLimitFilter` lets the first record of each *kind*
through, drops the same kind for ``period`` seconds, and adds to the next one it
lets through how many were dropped, so nothing is hidden silently (the shape of
journald's ``RateLimitIntervalSec`` and Go's ``rate.Sometimes``).

A kind is (logger name, level, message template): ``"Unable connect to %s"``
with any arguments is one kind, so a different message — a state change —
always gets through. Use :func:`rate_limit` for a library's loggers, or attach
a filter to a logger or handler of your own::

    from gamsi.logs import rate_limit
    rate_limit("aiokafka", period=60.0)
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

MAX_KINDS = 1000
"""Kinds remembered at most; past that the oldest windows are forgotten (bounded memory)."""


class RateLimitFilter(logging.Filter):
    """A logging filter passing one record per kind per ``period`` seconds.

    ``period`` is in seconds (> 0); ``clock`` returns monotonic seconds (tests
    pass a fake one). A record let through after some were dropped gets
    ``" (N more like this in the last S s)"`` appended to its message.
    Raises ValueError for a period that is not positive.
    """

    def __init__(
        self,
        period: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        source: str = "",
    ) -> None:
        super().__init__()
        self.source = source
        """When set, every record is one kind: one line per ``period`` for the whole
        source (a client library's chatter while the broker is away), whatever it says."""
        if not period > 0:
            raise ValueError(f"rate-limit period: expected seconds > 0, got {period}")
        self.period = period
        self.clock = clock
        self._windows: dict[tuple[str, int, str], list[float]] = {}  # kind -> [start, dropped]

    def filter(self, record: logging.LogRecord) -> bool:
        kind = (
            (self.source, 0, "") if self.source else (record.name, record.levelno, str(record.msg))
        )
        now = self.clock()
        window = self._windows.get(kind)
        if window is not None and now - window[0] < self.period:
            window[1] += 1
            return False
        if window is not None and window[1]:
            dropped, since = int(window[1]), now - window[0]
            record.msg = f"{record.msg} ({dropped} more like this in the last {since:.0f} s)"
        self._windows[kind] = [now, 0]
        if len(self._windows) > MAX_KINDS:
            oldest = sorted(self._windows, key=lambda k: self._windows[k][0])
            for old in oldest[: len(oldest) - MAX_KINDS]:
                del self._windows[old]
        return True


def rate_limit(prefix: str, period: float = 60.0, *, per_kind: bool = True) -> RateLimitFilter:
    """Rate-limit the logger ``prefix`` and every logger under it that exists now.

    A filter on a logger sees only the records that logger creates (not those
    its children propagate), so one shared :class:`RateLimitFilter` is attached
    to each of them; call this after importing the library, whose modules create
    their loggers at import. Calling it again returns the filter already
    installed on ``prefix`` and covers loggers created since. ``period`` in seconds.
    With ``per_kind=False`` the whole library is one kind: one line per period in all,
    with the count of the rest (what a long-running service wants from its Kafka client
    while the broker is away; its own state changes are logged by Gamsi's loggers).
    """
    root = logging.getLogger(prefix)
    installed = next((f for f in root.filters if isinstance(f, RateLimitFilter)), None)
    limiter = installed or RateLimitFilter(period, source="" if per_kind else prefix)
    names = [prefix] + [
        name
        for name, logger in logging.root.manager.loggerDict.items()
        if name.startswith(prefix + ".") and isinstance(logger, logging.Logger)
    ]
    for name in names:
        logger = logging.getLogger(name)
        if limiter not in logger.filters:
            logger.addFilter(limiter)
    return limiter
