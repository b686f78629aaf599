"""The ``gamsi`` command line.

Each stage contributes its own subcommands from its package (``gamsi.<stage>.cli``
with an ``add_commands(subparsers)`` function), so this file only knows the
stages' names. A handler takes ``(args, settings)`` and returns an exit code;
errors a user can act on are raised as :class:`UserError` (or ``ConfigError``)
and printed without a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import logging
import sys
from collections.abc import Callable, Sequence
from typing import Any

import orjson

from gamsi import __version__
from gamsi.settings import ConfigError, Settings, describe, load_settings

Handler = Callable[[argparse.Namespace, Settings], int]

STAGE_COMMANDS = (
    "gamsi.collector.cli",
    "gamsi.streams.cli",
    "gamsi.streams.policy_cli",
    "gamsi.notifier.cli",
    "gamsi.history.cli",
    "gamsi.supervisor",
    "gamsi.events_tail",
)


class UserError(RuntimeError):
    """A failure whose message alone tells the user what to do."""


def command(
    sub: Any, name: str, handler: Handler, help: str, **kwargs: Any
) -> argparse.ArgumentParser:
    """Declare a subcommand whose handler gets (args, settings)."""
    parser = sub.add_parser(name, help=help, description=help, **kwargs)
    parser.set_defaults(handler=handler)
    return parser


# -- kafka --------------------------------------------------------------------------


def _kafka_start(args: argparse.Namespace, settings: Settings) -> int:
    from gamsi.kafka_broker import LocalBroker
    from gamsi.topics import ensure_topics

    broker = LocalBroker(settings)
    print(f"starting Kafka {settings.broker.kafka_version} (jars in {broker.libs}) ...")
    status = broker.start()
    created = asyncio.run(ensure_topics(settings))
    print(f"Kafka {status}")
    if created:
        print("created topics: " + ", ".join(created))
    return 0


def _kafka_stop(args: argparse.Namespace, settings: Settings) -> int:
    from gamsi.kafka_broker import LocalBroker

    ran = LocalBroker(settings).stop()
    print("Kafka stopped" if ran else "Kafka was not running")
    return 0


def _kafka_status(args: argparse.Namespace, settings: Settings) -> int:
    from gamsi.kafka_broker import LocalBroker

    status = LocalBroker(settings).status()
    print(f"Kafka {status}")
    return 0 if status.running and status.answering else 3


def _kafka_topics(args: argparse.Namespace, settings: Settings) -> int:
    from gamsi.topics import ensure_topics, topic_specs

    created = asyncio.run(ensure_topics(settings))
    for spec in topic_specs(settings):
        mark = "created" if spec.name in created else "exists"
        print(f"{spec.name:24} partitions={spec.partitions} {mark}")
    return 0


def _add_kafka(sub: Any) -> None:
    kafka = sub.add_parser("kafka", help="the local Kafka broker (KRaft, 127.0.0.1)")
    ksub = kafka.add_subparsers(dest="kafka_command", required=True)
    command(ksub, "start", _kafka_start, "fetch (once), format (once) and start the broker")
    command(ksub, "stop", _kafka_stop, "stop the broker cleanly")
    command(ksub, "status", _kafka_status, "is the broker running and answering")
    command(ksub, "topics", _kafka_topics, "create Gamsi's topics if missing and list them")


# -- config and schemas -------------------------------------------------------------


def _config_show(args: argparse.Namespace, settings: Settings) -> int:
    for section, key, value, help_ in describe(settings):
        print(f"[{section}] {key} = {value!r}")
        if args.verbose:
            print(f"    {help_}")
    return 0


def _schemas(args: argparse.Namespace, settings: Settings) -> int:
    from gamsi.schemas.codec import json_schema
    from gamsi.schemas.records import RECORD_TYPES

    out = {kind: json_schema(cls) for kind, cls in RECORD_TYPES.items()}
    sys.stdout.write(orjson.dumps(out, option=orjson.OPT_INDENT_2).decode() + "\n")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gamsi", description="Gamsi (감시): watch servers, decide severity, notify, recover."
    )
    parser.add_argument("--version", action="version", version=f"gamsi {__version__}")
    parser.add_argument(
        "-c", "--config", help="TOML configuration file (default: $GAMSI_CONFIG or ./gamsi.toml)"
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)
    _add_kafka(sub)
    config = sub.add_parser("config", help="show the effective configuration")
    csub = config.add_subparsers(dest="config_command", required=True)
    command(csub, "show", _config_show, "every setting with its value (secrets masked)")
    command(sub, "schemas", _schemas, "print the JSON Schema of every wire record")
    for module in STAGE_COMMANDS:
        importlib.import_module(module).add_commands(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        settings = load_settings(args.config)
        return int(args.handler(args, settings))
    except (ConfigError, UserError) as exc:
        print(f"gamsi: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # the broker/mvn/java errors carry their own advice
        from gamsi.kafka_broker import BrokerError

        if isinstance(exc, BrokerError):
            print(f"gamsi: error: {exc}", file=sys.stderr)
            return 2
        raise
