"""``gamsi remediator run|keygen`` and ``gamsi remediate run|log``.

``remediate run`` is Zabbix's "execute now": a signed command through the same topic,
the same agent checks and the same audit rows as an automatic one, and it waits for
the result. ``remediate log`` prints the audit rows from the results topic (the same
rows the history writer stores in ClickHouse's ``remediations`` table).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import getpass
import socket
import time
import uuid
from typing import Any

from gamsi.cli import UserError, command
from gamsi.kafka_auth import kafka_client_options, producer_options
from gamsi.settings import Settings
from gamsi.terminal import pad, printable


def _run(args: argparse.Namespace, settings: Settings) -> int:
    from gamsi.remediator.keys import KeyFileError
    from gamsi.remediator.service import run_remediator
    from gamsi.runner import run_service

    try:
        return run_service(run_remediator, settings)
    except KeyFileError as exc:
        raise UserError(str(exc)) from None


def _keygen(args: argparse.Namespace, settings: Settings) -> int:
    from pathlib import Path

    from gamsi.remediator.keys import KeyFileError, key_id, keygen, load_public
    from gamsi.remediator.service import private_key_path

    target = Path(args.out).expanduser() if args.out else private_key_path(settings)
    try:
        private, public = keygen(target, force=args.force)
    except KeyFileError as exc:
        raise UserError(str(exc)) from None
    print(f"private key: {private} (mode 0600; keep it on this host)")
    print(f"public key:  {public} (key id {key_id(load_public(public))})")
    print("copy the public key to every agent and set [remediator] public_key_file to it")
    return 0


def _manual(args: argparse.Namespace, settings: Settings) -> int:
    from gamsi.durations import parse_duration
    from gamsi.remediator.records import OK, Command
    from gamsi.streams.policy.remediate import SCRIPT_NAME, UnsafeValue, check_value

    if not SCRIPT_NAME.match(args.script) or ".." in args.script:
        raise UserError(f"--script: expected a plain script name, got {args.script!r}")
    try:
        for i, arg in enumerate(args.args):
            check_value(f"argument {i}", arg)
        timeout = parse_duration(args.timeout)
    except (UnsafeValue, ValueError) as exc:
        raise UserError(str(exc)) from None
    now = time.time()
    cmd = Command(
        command_id=uuid.uuid4().hex,
        host=args.host,
        script=args.script,
        args=list(args.args),
        timeout=timeout,
        issued_at=now,
        expires_at=now + settings.remediator.command_ttl,
        by=f"manual:{getpass.getuser()}@{socket.gethostname()}",
    )
    wait = settings.remediator.command_ttl + timeout + 10
    row = asyncio.run(_send_and_wait(settings, cmd, wait))
    if row is None:
        print(f"no result within {wait:.0f} s (is the agent on {args.host} running?)")
        return 3
    print(printable(f"{row.host}: {row.status}: {row.summary()}"))
    if row.reason and row.reason not in row.summary():
        print(printable(f"reason: {row.reason}"))
    if row.output:  # a script's output is multi-line; other control characters escaped
        print(printable(row.output.rstrip("\n"), keep_newlines=True))
    return 0 if row.status == OK else 1


async def _send_and_wait(settings: Settings, cmd: Any, wait: float) -> Any:
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

    from gamsi.remediator import records as R
    from gamsi.remediator.service import Signer
    from gamsi.topics import all_partitions, ensure_topics

    r = settings.remediator
    signer = Signer(settings)
    await ensure_topics(settings)
    consumer = AIOKafkaConsumer(**kafka_client_options(settings), group_id=None)
    producer = AIOKafkaProducer(**producer_options(settings))
    try:  # started inside the try: a failed start is stopped too (no unclosed client)
        await consumer.start()
        await producer.start()
        tps = await all_partitions(consumer, r.results_topic)
        consumer.assign(tps)
        await consumer.seek_to_end(*tps)
        for tp in tps:  # resolve the end now, before the command can be answered
            await consumer.position(tp)
        issued = R.Remediation.about(cmd, R.ISSUED, cmd.issued_at, by=cmd.by)
        issued.timeout_s = cmd.timeout
        key = cmd.host.encode()
        await producer.send_and_wait(r.results_topic, R.encode_remediation(issued), key=key)
        await producer.send_and_wait(r.commands_topic, signer.envelope(cmd), key=key)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            for messages in (await consumer.getmany(timeout_ms=500)).values():
                for message in messages:
                    row = R.decode_remediation(message.value or b"")
                    if row.command_id == cmd.command_id and row.status in R.RESULTS:
                        return row
        return None
    finally:
        await producer.stop()
        await consumer.stop()


def _log(args: argparse.Namespace, settings: Settings) -> int:
    from gamsi.durations import parse_duration

    try:
        since = time.time() - parse_duration(args.since)
    except ValueError as exc:
        raise UserError(f"--since: {exc}") from None
    rows = asyncio.run(read_log(settings, since))
    shown = 0
    for row in rows:
        if args.host and row.host != args.host:
            continue
        when = dt.datetime.fromtimestamp(row.ts, dt.UTC).strftime("%Y-%m-%d %H:%M:%S")
        what = " ".join([row.script, *row.args]) if row.script else "-"
        detail = row.summary() if row.status in ("ok", "failed", "timed-out") else row.reason
        print(log_line(when, row.host, row.status, what, detail, row.by))
        shown += 1
    if not shown:
        print("no remediation rows in that period")
    return 0


def log_line(when: str, host: str, status: str, what: str, detail: str, by: str) -> str:
    """One ``remediate log`` line; every field escaped by :func:`gamsi.terminal.printable`
    (a script argument ``a\\nb`` prints as ``a\\x0ab``, never as a second line)."""
    host, status, what, detail, by = (printable(str(v)) for v in (host, status, what, detail, by))
    return f"{when} {pad(host, 16)} {pad(status, 13)} {pad(what, 30)} {detail} [{by}]"


async def read_log(settings: Settings, since: float) -> list[Any]:
    """Every audit row on the results topic since ``since`` (seconds since the epoch), by time."""
    from aiokafka import AIOKafkaConsumer

    from gamsi.remediator.audit import read_rows

    consumer = AIOKafkaConsumer(**kafka_client_options(settings), group_id=None)
    rows: list[Any] = []
    try:
        await consumer.start()
        await read_rows(consumer, settings.remediator.results_topic, since, rows.append)
    finally:
        await consumer.stop()
    return sorted(rows, key=lambda r: r.ts)


def add_commands(sub: Any) -> None:
    rem = sub.add_parser("remediator", help="the remediator service and its signing key")
    rsub = rem.add_subparsers(dest="remediator_command", required=True)
    command(rsub, "run", _run, "decide and issue recovery commands (its own consumer group)")
    keygen = command(rsub, "keygen", _keygen, "make the Ed25519 key pair that signs commands")
    keygen.add_argument("--out", help="private key path (default: [remediator] private_key_file)")
    keygen.add_argument("--force", action="store_true", help="replace an existing key (rotation)")
    manual = sub.add_parser("remediate", help="run a recovery script now, or read the audit log")
    msub = manual.add_subparsers(dest="remediate_command", required=True)
    run = command(msub, "run", _manual, "send a signed command to a host's agent, print the result")
    run.add_argument("--host", required=True, help="the server whose agent runs it")
    run.add_argument("--script", required=True, help="a script name in that agent's allow-list")
    run.add_argument("--timeout", default="30s", help="kill it after this long (default 30s)")
    run.add_argument("args", nargs="*", help="arguments, each passed as one argv element")
    log = command(msub, "log", _log, "every decision and result, oldest first")
    log.add_argument("--host", help="only this host")
    log.add_argument("--since", default="1h", help="how far back (default 1h; e.g. 30m, 2d)")
