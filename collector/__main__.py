"""``python -m gamsi.collector run|once|capture|install``: the lean service entry point.

``gamsi collector ...`` builds the parser of every stage, which imports their
modules; a resident agent should not pay for code it never runs, so the systemd
unit starts the collector through this module, which knows only its own commands.
"""

from __future__ import annotations

import argparse
import logging
import sys

from gamsi.cli import UserError
from gamsi.collector.cli import add_subcommands
from gamsi.masking import install_log_masking, mask
from gamsi.settings import ConfigError, load_settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gamsi.collector")
    parser.add_argument("-c", "--config", help="TOML configuration file")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    add_subcommands(parser.add_subparsers(dest="collector_command", required=True))
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    install_log_masking()
    try:
        return int(args.handler(args, load_settings(args.config)))
    except (ConfigError, UserError) as exc:
        print(f"gamsi collector: error: {mask(str(exc))}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
