"""Checked readers for policy values: each names the path and what it expected."""

from __future__ import annotations

import math
import reprlib
from collections.abc import Iterable
from typing import Any

from gamsi.durations import format_duration, parse_duration
from gamsi.streams.policy.errors import PolicyError
from gamsi.streams.policy.limits import (
    MAX_COUNT,
    MAX_DURATION,
    MAX_INT,
    MAX_LIST,
    MAX_NAME,
    MAX_TEXT,
)


class Reader:
    """Reads one source (a file or a dict) and raises PolicyError naming ``source``."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, path: str, message: str) -> PolicyError:
        """The error to raise for ``path`` in this source (the loader adds the line)."""
        return PolicyError(self.source, path, message)

    def mapping(self, value: Any, path: str, allowed: Iterable[str]) -> dict[str, Any]:
        """A mapping whose keys are all in ``allowed`` (unknown keys are typos, rejected)."""
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise self.fail(path, f"expected a mapping, got {_show(value)}")
        allowed = tuple(allowed)
        for key in value:
            if key not in allowed:
                shown = key if isinstance(key, str) and len(key) <= 60 else _show(key)
                raise self.fail(
                    _join(path, shown),
                    f"unknown key {_show(key)}; expected one of {', '.join(allowed)}",
                )
        return value

    def string(self, value: Any, path: str, *, empty: bool = True, limit: int = MAX_TEXT) -> str:
        """A string of at most ``limit`` characters (``empty=False``: and at least one)."""
        if not isinstance(value, str) or (not empty and not value):
            what = "a string" if empty else "a non-empty string"
            raise self.fail(path, f"expected {what}, got {_show(value)}")
        if len(value) > limit:
            raise self.fail(
                path, f"expected at most {limit} characters, got {len(value):,}: {_show(value)}"
            )
        return value

    def name(self, value: Any, path: str) -> str:
        """A watch or item name: non-empty, at most :data:`MAX_NAME` characters."""
        return self.string(value, path, empty=False, limit=MAX_NAME)

    def strings(self, value: Any, path: str) -> tuple[str, ...]:
        """A list of strings; a single string is accepted as a one-item list."""
        if value is None:
            return ()
        if isinstance(value, str):
            return (self.string(value, path),)
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.fail(path, f"expected a list of strings, got {_show(value)}")
        if len(value) > MAX_LIST:
            raise self.fail(path, f"expected at most {MAX_LIST:,} entries, got {len(value):,}")
        return tuple(self.string(v, f"{path}[{i}]") for i, v in enumerate(value))

    def number(self, value: Any, path: str) -> float:
        """A finite number (a whole number at most :data:`MAX_INT` in size), as a float."""
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or (isinstance(value, int) and abs(value) > MAX_INT)
            or not math.isfinite(value)
        ):
            raise self.fail(path, f"expected a finite number, got {_show(value)}")
        return float(value)

    def count(self, value: Any, path: str) -> int:
        """A whole number from 1 to :data:`MAX_COUNT`."""
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_COUNT:
            raise self.fail(
                path, f"expected a whole number from 1 to {MAX_COUNT:,}, got {_show(value)}"
            )
        return value

    def boolean(self, value: Any, path: str) -> bool:
        """``true`` or ``false`` (not yes/no, not 0/1)."""
        if not isinstance(value, bool):
            raise self.fail(path, f"expected true or false, got {_show(value)}")
        return value

    def duration(self, value: Any, path: str) -> float:
        """Seconds from a number or a string like ``90s``, ``5m``, ``1h`` (gamsi.durations),
        at most :data:`MAX_DURATION`."""
        if not isinstance(value, str | float | int) or (
            isinstance(value, int) and abs(value) > MAX_INT
        ):
            value = _show(value)  # parse_duration's message then shows a bounded text
        try:
            seconds = parse_duration(value)
        except (ValueError, OverflowError) as exc:
            raise self.fail(path, str(exc)) from None
        if seconds > MAX_DURATION:
            raise self.fail(
                path, f"expected a duration of at most 366d, got {format_duration(seconds)}"
            )
        return seconds


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


_repr = reprlib.Repr()  # keyword arguments only from Python 3.12
_repr.maxlevel, _repr.maxlong, _repr.maxstring, _repr.maxother = 2, 40, 60, 60
_repr.maxlist = _repr.maxdict = _repr.maxtuple = _repr.maxset = 4


def _show(value: Any) -> str:
    """A short repr for error messages, bounded in time and memory for any value (a
    billion-laughs structure or a 1 MB string is shown in at most about 60 characters)."""
    try:
        text = _repr.repr(value)
    except Exception:  # a value whose repr fails must not turn an error into a traceback
        text = f"<{type(value).__name__}>"
    return text if len(text) <= 60 else text[:57] + "..."


show = _show


join = _join
__all__ = ["Reader", "format_duration", "join", "show"]
