"""Subcommands of this stage (placeholder until the stage lands)."""

from typing import Any


def add_commands(sub: Any) -> None:
    """Register this stage's subcommands on the `gamsi` parser."""
