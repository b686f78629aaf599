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
import traceback
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

import orjson

from gamsi import __version__
from gamsi.cli_parser import (
    GamsiParser,
    add_global_options,
    command_path,
    spread_global_options,
)
from gamsi.logs import rate_limit
from gamsi.masking import install_log_masking, mask
from gamsi.settings import ConfigError, Settings, describe, load_settings

Handler = Callable[[argparse.Namespace, Settings], int]

STAGE_COMMANDS = (
    "gamsi.collector.cli",
    "gamsi.streams.cli",
    "gamsi.streams.policy.cli",
    "gamsi.notifier.cli",
    "gamsi.history.cli",
    "gamsi.remediator.cli",
    "gamsi.supervisor",
    "gamsi.events_tail",
    "gamsi.web.cli",
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
    from gamsi.supervisor import uses_local_broker
    from gamsi.topics import ensure_topics

    broker = LocalBroker(settings)
    if not uses_local_broker(settings):  # the topics go to the broker started here
        print(f"note: [kafka] bootstrap is {settings.kafka.bootstrap}, not this broker")
        settings = replace(settings, kafka=replace(settings.kafka, bootstrap=broker.bootstrap))
    print(f"starting Kafka {settings.broker.kafka_version} (jars in {broker.libs}) ...")
    status = broker.start()
    created = asyncio.run(ensure_topics(settings))
    print(f"Kafka {status}")
    if created:
        print("created topics: " + ", ".join(created))
    return 0


def _kafka_stop(args: argparse.Namespace, settings: Settings) -> int:
    from gamsi.instance_lock import running_up
    from gamsi.kafka_broker import LocalBroker

    up = running_up(settings.data_dir)
    if up is not None:  # it would restart the broker within seconds: say so instead
        raise UserError(
            f"the broker belongs to gamsi up (pid {up}), which restarts it if it stops; "
            "stop gamsi up instead (Ctrl-C in its terminal, or kill " + up + ")"
        )
    ran = LocalBroker(settings).stop()
    print("Kafka stopped" if ran else "Kafka was not running")
    return 0


def _kafka_status(args: argparse.Namespace, settings: Settings) -> int:
    """The configured bootstrap answers a metadata request (exit 0) or not (3); for the
    local broker also whether its process runs."""
    from gamsi.kafka_broker import LocalBroker
    from gamsi.kafka_errors import broker_answers
    from gamsi.supervisor import uses_local_broker

    answering = asyncio.run(broker_answers(settings))
    if uses_local_broker(settings):
        status = replace(LocalBroker(settings).status(), answering=answering)
        print(f"Kafka {status}")
    else:
        state = "answering" if answering else "not answering"
        print(f"Kafka at {settings.kafka.bootstrap}: {state}")
    return 0 if answering else 3


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


def config_reference() -> str:
    """docs/configuration.md, generated from the settings' own documentation."""
    from dataclasses import fields

    defaults = Settings()
    out = [
        "# Configuration reference",
        "",
        "<!-- generated by `gamsi config docs`; tests/unit/test_config_docs.py checks it -->",
        "",
        "Gamsi reads one TOML file (`--config FILE`, `$GAMSI_CONFIG`, or `./gamsi.toml`) and",
        "then `GAMSI_<SECTION>_<KEY>` environment variables, which win. Unknown sections and",
        "keys are errors naming the file, the key and what was expected; so is a variable",
        "`GAMSI_<SECTION>_...` that names no key of a known section. Lists are TOML arrays",
        "in the file and comma-separated in the environment. Defaults that depend on the",
        "machine (host name, home directory) are shown as on a typical Linux host.",
    ]
    for sec in fields(Settings):
        section = getattr(defaults, sec.name)
        out += ["", f"## [{sec.name}]", ""]
        if type(section).__doc__ and not type(section).__doc__.startswith(type(section).__name__):
            out += [type(section).__doc__.strip(), ""]
        out += ["| key | default | environment | meaning |", "|---|---|---|---|"]
        for f in fields(section):
            value = getattr(section, f.name)
            if sec.name == "paths":
                value = f"~/{'.local/share' if f.name == 'data_dir' else '.cache'}/gamsi"
            elif sec.name == "collector" and f.name == "host":
                value = "(this machine's host name)"
            shown = "***" if f.metadata.get("secret") and value else repr(value)
            env = f"GAMSI_{sec.name.upper()}_{f.name.upper()}"
            help_ = f.metadata.get("help", "").replace("|", "\\|")
            out.append(f"| `{f.name}` | `{shown}` | `{env}` | {help_} |")
    return "\n".join(out) + "\n"


def _config_docs(args: argparse.Namespace, settings: Settings) -> int:
    sys.stdout.write(config_reference())
    return 0


def _schemas(args: argparse.Namespace, settings: Settings) -> int:
    from gamsi.remediator.records import WIRE_RECORDS
    from gamsi.schemas.codec import json_schema
    from gamsi.schemas.records import RECORD_TYPES

    out = {kind: json_schema(cls) for kind, cls in RECORD_TYPES.items()}
    out.update({cls.kind: json_schema(cls) for cls in WIRE_RECORDS})
    sys.stdout.write(orjson.dumps(out, option=orjson.OPT_INDENT_2).decode() + "\n")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The whole ``gamsi`` parser: global options (also after the subcommand), the
    platform's commands and every stage's, and "did you mean" on a mistyped name."""
    parser = GamsiParser(
        prog="gamsi", description="Gamsi (감시): watch servers, decide severity, notify, recover."
    )
    parser.add_argument("--version", action="version", version=f"gamsi {__version__}")
    add_global_options(parser)
    sub = parser.add_subparsers(dest="command", required=True)
    _add_kafka(sub)
    config = sub.add_parser("config", help="show the effective configuration")
    csub = config.add_subparsers(dest="config_command", required=True)
    command(csub, "show", _config_show, "every setting with its value (secrets masked)")
    command(csub, "docs", _config_docs, "print the configuration reference (Markdown)")
    command(sub, "schemas", _schemas, "print the JSON Schema of every wire record")
    for module in STAGE_COMMANDS:
        importlib.import_module(module).add_commands(sub)
    spread_global_options(parser)
    return parser


SERVICES = frozenset({"collector", "streams", "notifier", "history", "remediator", "web"})
"""Stages whose ``run`` subcommand is a long-running service (see :func:`_setup_logging`)."""


def _setup_logging(path: tuple[str, ...], verbose: bool) -> None:
    """Logging for this command. ``-v``: everything at DEBUG. A service (or `gamsi up`):
    INFO, aiokafka's warnings one per kind per minute (gamsi.logs). A one-shot command:
    warnings only and no client chatter, so an expected failure is its one line."""
    service = (len(path) == 2 and path[0] in SERVICES and path[1] == "run") or path == ("up",)
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO if service else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    install_log_masking()  # no credential of any URL in any log line
    if verbose:
        return
    aio = logging.getLogger("aiokafka")
    if not service:
        aio.setLevel(logging.CRITICAL)
        return
    aio.setLevel(logging.WARNING)
    import aiokafka  # noqa: F401  (creates its loggers, which rate_limit covers)

    # One aiokafka line a minute in all (with the count of the rest), on the loggers:
    # faust's worker replaces the handlers. "Kafka is away/back" is Gamsi's own line.
    rate_limit("aiokafka", 60.0, per_kind=False)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one ``gamsi`` command; returns its exit code.

    Exit codes: the handler's own; 2 for a :class:`UserError` (or a usage error);
    :data:`EXIT_CONFIG` (78, sysexits.h ``EX_CONFIG``) for a :class:`ConfigError`;
    :data:`~gamsi.kafka_errors.EXIT_UNREACHABLE` (75) when Kafka cannot be reached;
    130 on Ctrl-C. Expected failures are one line on stderr; ``-v`` adds the traceback.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    client_level = logging.getLogger("aiokafka").level  # restored: main() may run in-process
    _setup_logging(command_path(parser, args), args.verbose)
    settings: Settings | None = None
    try:
        settings = load_settings(args.config)
        return int(args.handler(args, settings))
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        code, line = _expected(exc, settings)
        if code is None:
            raise
        if args.verbose:
            traceback.print_exc()
        print(mask(line), file=sys.stderr)
        return code
    finally:
        logging.getLogger("aiokafka").setLevel(client_level)


EXIT_CONFIG = 78
"""Exit code of a configuration error (sysexits.h ``EX_CONFIG``): restarting will not help."""


def _expected(exc: Exception, settings: Settings | None) -> tuple[int | None, str]:
    """(exit code, the one line) for an expected failure; (None, "") for a bug."""
    from gamsi.extras import missing_extra
    from gamsi.kafka_broker import BrokerError
    from gamsi.kafka_errors import EXIT_UNREACHABLE, unreachable, unreachable_line

    if isinstance(exc, ConfigError):
        return EXIT_CONFIG, f"gamsi: error: {exc}"
    if isinstance(exc, UserError | BrokerError):  # mvn/java errors carry their own advice
        return 2, f"gamsi: error: {exc}"
    if settings is not None and unreachable(exc):
        return EXIT_UNREACHABLE, unreachable_line(settings)
    needs = missing_extra(exc)  # a central command on the agent install
    if needs:
        return 2, f"gamsi: error: {needs}"
    return None, ""
