"""The agent's side of recovery scripts: read this host's commands, check them, run them.

The agent reads the commands topic **without a consumer group**: it computes the
partition its host name hashes to (Kafka's default partitioner, the one the
remediator's producer uses), assigns itself that partition alone and drops records
keyed to other hosts, so thousands of agents never cause a group rebalance. Where it
stopped is kept on disk next to the ids it has seen; a new agent starts at the end.

A command runs only when every check passes, in this order; the first that fails is
the reason in the ``rejected`` row it publishes (nothing else happens):

1. the envelope is well formed (``malformed``);
2. the Ed25519 signature over the payload verifies against ``[remediator]
   public_key_file`` (``signature``) — checked before any field is read;
3. the command is addressed to this host (``for another host``);
4. it has not expired (``expired``);
5. its id was never seen here (``replayed``); the id is written to disk, fsynced,
   *before* the script starts, so a crash or restart never runs it twice;
6. no argument holds a control character (``unsafe argument``);
7. the script is in the allow-list (:func:`gamsi.remediator.runner.resolve_script`).

Then it runs without a shell (:func:`gamsi.remediator.runner.run_script`) and the
result (ok, failed, timed-out; exit code, duration, output tail) is published to the
results topic. With no public key configured the agent reads no command at all.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections import deque
from pathlib import Path

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import KafkaError
from aiokafka.partitioner import DefaultPartitioner
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from gamsi.kafka_auth import kafka_client_options, producer_options
from gamsi.remediator import records as R
from gamsi.remediator.keys import KeyFileError, key_id, load_trusted, verify
from gamsi.remediator.records import Command, Remediation, decode_command, open_envelope
from gamsi.remediator.runner import Rejected, clean_environment, resolve_script, run_script
from gamsi.schemas.codec import DecodeError
from gamsi.settings import Settings
from gamsi.streams.policy.remediate import UnsafeValue, check_value
from gamsi.topics import all_partitions

log = logging.getLogger("gamsi.collector.remediate")
KEY_RETRY = 30.0
"""Seconds between attempts to read a missing or unreadable public key file."""
SEEN_KEEP = 86400.0
"""Seconds an id is remembered past its command's expiry (an expired command is refused
anyway; the margin covers clocks that disagree)."""


class SeenStore:
    """Ids of commands already seen, and the offset to resume from, kept in ``directory``."""

    def __init__(self, directory: Path, now: float) -> None:
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.ids_file = directory / "seen-commands.jsonl"
        self.position_file = directory / "commands-position.json"
        self.ids: dict[str, float] = {}
        if self.ids_file.exists():
            for line in self.ids_file.read_bytes().splitlines():
                with contextlib.suppress(orjson.JSONDecodeError, KeyError, TypeError):
                    entry = orjson.loads(line)
                    self.ids[str(entry["id"])] = float(entry["exp"])
        self.ids = {i: exp for i, exp in self.ids.items() if exp + SEEN_KEEP > now}
        tmp = self.ids_file.with_suffix(".tmp")
        tmp.write_bytes(b"".join(self._line(i, e) for i, e in self.ids.items()))
        os.replace(tmp, self.ids_file)

    @staticmethod
    def _line(command_id: str, expires_at: float) -> bytes:
        return orjson.dumps({"id": command_id, "exp": expires_at}) + b"\n"

    def seen(self, command_id: str) -> bool:
        return command_id in self.ids

    def add(self, command_id: str, expires_at: float) -> None:
        """Remember ``command_id`` durably (fsync) before its script may start."""
        self.ids[command_id] = expires_at
        with self.ids_file.open("ab") as out:
            out.write(self._line(command_id, expires_at))
            out.flush()
            os.fsync(out.fileno())

    def position(self, partition: int) -> int | None:
        with contextlib.suppress(OSError, orjson.JSONDecodeError, KeyError, TypeError):
            saved = orjson.loads(self.position_file.read_bytes())
            if saved["partition"] == partition:
                return int(saved["offset"])
        return None

    def save_position(self, partition: int, offset: int) -> None:
        tmp = self.position_file.with_suffix(".tmp")
        tmp.write_bytes(orjson.dumps({"partition": partition, "offset": offset}))
        os.replace(tmp, self.position_file)


class CommandGuard:
    """Checks 1-7 of the module docstring and the run itself; one per agent (or central)."""

    def __init__(
        self,
        settings: Settings,
        trusted: tuple[Ed25519PublicKey, ...],
        host: str,
        store: SeenStore,
        any_host: bool = False,
    ) -> None:
        self.r = settings.remediator
        self.trusted = trusted
        self.key_ids = ", ".join(key_id(k) for k in trusted)
        self.host, self.store, self.any_host = host, store, any_host
        self.runs_on = "central" if any_host else "agent"
        self.by = f"{self.runs_on}@{host}"

    def rejected(self, reason: str, now: float, command: Command | None = None) -> Remediation:
        """The audit row of a refusal, by this agent (or the central runner)."""
        mine = {"reason": reason, "by": self.by, "runs_on": self.runs_on}
        if command is None:  # nothing of an unverified command is trusted, not even its id
            return Remediation(ts=now, status=R.REJECTED, host=self.host, **mine)
        row = Remediation.about(command, R.REJECTED, now, **mine)
        row.host = command.host if self.any_host else self.host  # who refused it, not the claim
        return row

    async def handle(self, value: bytes, now: float) -> Remediation:
        """Check one commands-topic value and run it if every check passes; the audit row."""
        try:
            payload, signature, kid = open_envelope(value)
        except DecodeError as exc:
            return self.rejected(f"malformed: {exc}", now)
        if not any(verify(k, payload, signature) for k in self.trusted):
            return self.rejected(
                f"signature: does not verify against this host's public key(s) {self.key_ids} "
                f"(command names key {kid[:16]!r})",
                now,
            )
        try:
            command = decode_command(payload)
        except DecodeError as exc:
            return self.rejected(f"malformed: {exc}", now)
        if command.host != self.host and not self.any_host:
            return self.rejected(f"for another host: {command.host[:80]!r}", now, command)
        if now > command.expires_at:
            ago = now - command.expires_at
            return self.rejected(f"expired {ago:.0f} s ago", now, command)
        if self.store.seen(command.command_id):
            return self.rejected("replayed: this command id was seen before", now, command)
        self.store.add(command.command_id, command.expires_at)
        return await self.execute(command, now)

    async def execute(self, command: Command, now: float) -> Remediation:
        """Checks 6-7 and the run (``where: central`` enters here, already trusted)."""
        try:
            for i, arg in enumerate(command.args):
                check_value(f"argument {i}", arg)
        except UnsafeValue as exc:
            return self.rejected(f"unsafe argument: {exc}", now, command)
        try:
            path = resolve_script(self.r.scripts_dir, command.script)
            env = clean_environment(
                {"GAMSI_COMMAND_ID": command.command_id, "GAMSI_ATTEMPT": str(command.attempt)}
            )
            log.info("running %s %s (command %s)", path, command.args, command.command_id)
            done = await run_script(path, command.args, command.timeout, self.r.output_bytes, env)
        except Rejected as exc:
            return self.rejected(str(exc), now, command)
        status = R.TIMED_OUT if done.timed_out else R.OK if done.exit_code == 0 else R.FAILED
        return Remediation.about(
            command,
            status,
            time.time(),
            exit_code=done.exit_code,
            duration_s=done.duration_s,
            output=done.output,
            timeout_s=command.timeout,
            by=self.by,
            runs_on=self.runs_on,
        )


class Budget:
    """Rows for unverified commands (malformed, bad signature): at most ``limit`` per
    ``period`` seconds, so whoever can write to the commands topic cannot flood the audit
    log and history through an agent. The rest are counted; the next row let through
    names how many were dropped. Verified commands are never limited here."""

    def __init__(self, limit: int = 10, period: float = 60.0) -> None:
        self.limit, self.period = limit, period
        self.recent: deque[float] = deque()
        self.dropped = 0

    def take(self, row: Remediation, now: float) -> bool:
        """True if ``row`` may go out (its reason then carries the count dropped before)."""
        while self.recent and self.recent[0] <= now - self.period:
            self.recent.popleft()
        if len(self.recent) >= self.limit:
            self.dropped += 1
            return False
        self.recent.append(now)
        if self.dropped:
            row.reason += f" ({self.dropped} more like it dropped before this one)"
            self.dropped = 0
        return True


def state_dir(settings: Settings) -> Path:
    return Path(settings.remediator.state_dir or settings.data_dir / "remediate").expanduser()


def host_partition(host: str, partitions: set[int]) -> int:
    """The partition Kafka's default partitioner gives records keyed ``host``."""
    return DefaultPartitioner()(host.encode(), sorted(partitions), [])


async def listen(settings: Settings, stop: asyncio.Event) -> None:
    """The agent's command loop until ``stop``; runs nothing without a public key."""
    r, host = settings.remediator, settings.collector.host
    if not r.public_key_file:
        log.info("no [remediator] public_key_file: this agent runs no recovery command")
        return
    public = None
    while public is None:  # e.g. the remediator of `gamsi up` has not made the pair yet
        try:
            public = load_trusted(Path(r.public_key_file).expanduser())  # noqa: ASYNC240
        except KeyFileError as exc:
            log.error("recovery commands wait for a valid public key (retry in 30 s): %s", exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), KEY_RETRY)
            if stop.is_set():
                return
    guard = CommandGuard(settings, public, host, SeenStore(state_dir(settings), time.time()))
    while not stop.is_set():
        try:
            await _listen_once(settings, guard, stop)
        except (KafkaError, OSError) as exc:
            log.warning("command listener: %s; retrying", exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 5.0)


async def _listen_once(settings: Settings, guard: CommandGuard, stop: asyncio.Event) -> None:
    r, key = settings.remediator, guard.host.encode()
    consumer = AIOKafkaConsumer(
        **kafka_client_options(settings), group_id=None, enable_auto_commit=False
    )
    producer = AIOKafkaProducer(**producer_options(settings))
    await consumer.start()
    try:
        await producer.start()
        parts = {tp.partition for tp in await all_partitions(consumer, r.commands_topic)}
        tp = TopicPartition(r.commands_topic, host_partition(guard.host, parts))
        consumer.assign([tp])
        saved = guard.store.position(tp.partition)
        if saved is None:  # a new agent: from now on (and a restart resumes from here)
            await consumer.seek_to_end(tp)
            guard.store.save_position(tp.partition, await consumer.position(tp))
        else:
            consumer.seek(tp, saved)
        log.info("reading recovery commands for %s from %s-%d", guard.host, tp.topic, tp.partition)
        flood = Budget()
        while not stop.is_set():
            messages = (await consumer.getmany(tp, timeout_ms=500)).get(tp, [])
            for message in messages:
                if message.key != key:
                    continue
                row = await _handle(guard, message.value or b"")
                if not row.command_id and not flood.take(row, time.time()):
                    continue  # counted; the next unverified row that goes out says how many
                log.info("command %s: %s %s", row.command_id, row.status, row.reason)
                await producer.send_and_wait(r.results_topic, R.encode_remediation(row), key=key)
            if messages:  # once per batch; a command re-read after a crash is a replay
                guard.store.save_position(tp.partition, messages[-1].offset + 1)
    finally:
        await producer.stop()
        await consumer.stop()


async def _handle(guard: CommandGuard, value: bytes) -> Remediation:
    """guard.handle, total: a defect shows as a rejected row, never a stopped listener."""
    now = time.time()
    try:
        return await guard.handle(value, now)
    except Exception as exc:  # the agent must outlive any record
        log.exception("command handling failed")
        return guard.rejected(f"internal error: {type(exc).__name__}", now)
