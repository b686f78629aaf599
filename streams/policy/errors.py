"""Policy errors that name the file, the path to the key and what was expected."""

from __future__ import annotations


class PolicyError(ValueError):
    """A policy is invalid. ``str()`` reads ``FILE:LINE: PATH: expected ...``.

    The loader fills ``line`` from the YAML node of ``path`` when it knows it, so a
    user can jump straight to the mistake.
    """

    def __init__(self, source: str, path: str, message: str, line: int | None = None) -> None:
        self.source = source
        self.path = path
        self.message = message
        self.line = line
        super().__init__(str(self))

    def __str__(self) -> str:
        where = f"{self.source}:{self.line}" if self.line else self.source
        return _one_line(f"{where}: {self.path or '(top)'}: {self.message}")

    def at_line(self, line: int | None) -> PolicyError:
        """The same error, naming ``line``."""
        return PolicyError(self.source, self.path, self.message, line)


def _one_line(text: str) -> str:
    """``text`` with control characters escaped (a key may hold a newline), so an error is
    always one line a terminal or a log shows as is."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in text)
