"""Shared by the deployment tests: the repository root and "is this a gamsi command"."""

from __future__ import annotations

import argparse
import shlex
from pathlib import Path

from gamsi.cli import build_parser

ROOT = Path(__file__).resolve().parents[3]


def parse_gamsi(args: list[str]) -> argparse.Namespace:
    """Parse `gamsi ARGS` as the real CLI does; fails the test on an unknown subcommand."""
    parser = build_parser()
    try:
        parsed = parser.parse_args(args)
    except SystemExit:
        raise AssertionError(f"`gamsi {shlex.join(args)}` is not a gamsi command") from None
    assert callable(getattr(parsed, "handler", None)), f"`gamsi {shlex.join(args)}` has no handler"
    return parsed
