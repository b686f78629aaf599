"""Durations as people write them: ``90``, ``1.5``, ``250ms``, ``30s``, ``15m``, ``2h``, ``1d``.

The one parser of durations in Gamsi: watch policies (``duration``, ``window``,
``nodata.after``), the routing file (``renotify_every``, ``group_window``,
``escalate[].after``) and anything new read a duration through
:func:`parse_duration`, so the same text means the same time everywhere. Units
follow Prometheus' and Alertmanager's duration strings (``ms``, ``s``, ``m``,
``h``, ``d``); a bare number is seconds. Each caller wraps the ``ValueError`` in
its own error type, adding the file and key.
"""

from __future__ import annotations

import math
import re
from typing import Any

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, None: 1.0}
EXPECTED = "expected a duration like 30s, 5m, 1h or a number of seconds"


def parse_duration(value: Any) -> float:
    """Seconds (a finite float ≥ 0) from a number of seconds or a string like ``15m``.

    Raises ``ValueError`` whose message says what was expected and shows the value
    (``expected a duration like 30s, 5m, 1h or a number of seconds, got 'soon'``);
    the caller prefixes where it was read. Booleans are not numbers here.
    """
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    elif isinstance(value, str) and (m := _DURATION.match(value)):
        seconds = float(m.group(1)) * _UNITS[m.group(2)]
    else:
        raise ValueError(f"{EXPECTED}, got {show(value)}")
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"expected a duration of at least 0 s, got {show(value)}")
    return seconds


def format_duration(seconds: float) -> str | float:
    """The shortest exact unit form for text people read (``300`` → ``'5m'``, ``1.5`` → 1.5).

    :func:`parse_duration` reads the result back to the same number of seconds.
    """
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return seconds


def show(value: Any) -> str:
    """``repr(value)`` cut to 60 characters, for error messages about a bad value."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
