"""The ``gamsi`` argument parser's two kindnesses: global options anywhere, "did you mean".

* ``-v``/``--verbose`` and ``-c``/``--config`` work before or after the subcommand
  (``gamsi -v config show`` and ``gamsi config show -v``, as the docs write it):
  :func:`spread_global_options` copies them onto every subcommand's parser with
  ``default=SUPPRESS``, so a value given after the subcommand wins and one given
  before it is not reset.
* A mistyped subcommand or choice gets the nearest names (``difflib``, the same
  idea as git's "The most similar command is"): :class:`GamsiParser` rewrites
  argparse's "invalid choice" error.
"""

from __future__ import annotations

import argparse
import difflib
import re
from collections.abc import Iterable
from typing import NoReturn

_INVALID = re.compile(r"invalid choice: '([^']*)' \(choose from (.*)\)$")


def did_you_mean(word: str, choices: Iterable[str], n: int = 3) -> str:
    """``"; did you mean 'a' or 'b'?"`` for the choices close to ``word`` (difflib ratio
    ≥ 0.6), or ``""`` when none is close."""
    close = difflib.get_close_matches(word, list(choices), n=n, cutoff=0.6)
    if not close:
        return ""
    return "; did you mean " + " or ".join(f"'{c}'" for c in close) + "?"


class GamsiParser(argparse.ArgumentParser):
    """An ArgumentParser whose "invalid choice" errors suggest the nearest choices.

    Subparsers inherit the class (argparse builds them with the parent's class)."""

    def error(self, message: str) -> NoReturn:
        found = _INVALID.search(message)
        if found:
            word = found.group(1)
            choices = [c.strip().strip("'") for c in found.group(2).split(",")]
            hint = did_you_mean(word, choices)
            message = f"{message[: found.start()]}unknown choice '{word}'" + (
                hint or f"; expected one of {', '.join(choices)}"
            )
        super().error(message)


GLOBAL_OPTIONS = (
    (("-c", "--config"), {"help": "TOML configuration file ($GAMSI_CONFIG or ./gamsi.toml)"}),
    (("-v", "--verbose"), {"action": "store_true", "help": "debug logging; tracebacks of errors"}),
)  # fmt: skip
"""The options every gamsi command takes, before or after its subcommand."""


def add_global_options(parser: argparse.ArgumentParser, suppress: bool = False) -> None:
    """Declare :data:`GLOBAL_OPTIONS` on ``parser`` (with SUPPRESS defaults when
    ``suppress``); an option string the parser already uses is left to it."""
    taken = set(parser._option_string_actions)
    for flags, kwargs in GLOBAL_OPTIONS:
        free = [f for f in flags if f not in taken]
        if not free:
            continue
        extra = {"default": argparse.SUPPRESS} if suppress else {}
        parser.add_argument(*free, dest=flags[-1].lstrip("-"), **kwargs, **extra)


def spread_global_options(parser: argparse.ArgumentParser) -> None:
    """Add the global options to every subcommand parser below ``parser``, recursively."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in set(action.choices.values()):
                add_global_options(sub, suppress=True)
                spread_global_options(sub)


def command_path(parser: argparse.ArgumentParser, args: argparse.Namespace) -> tuple[str, ...]:
    """The subcommand names chosen, e.g. ``("notifier", "run")``."""
    path: list[str] = []
    current = parser
    while True:
        sub = next((a for a in current._actions if isinstance(a, argparse._SubParsersAction)), None)
        if sub is None or getattr(args, sub.dest, None) is None:
            return tuple(path)
        name = getattr(args, sub.dest)
        path.append(name)
        current = sub.choices[name]
