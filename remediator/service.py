"""The remediator service (`gamsi remediator run`): severity events in, signed commands out.

This is the Kafka edge around the pure :class:`gamsi.remediator.decide.Decider`:

* the events topic, in its own consumer group (manual commits);
* the policy in force: the configured one, then every policy applied on the policies
  topic (:func:`gamsi.streams.policy.feed.follow_policies`), like the stream workers, so
  bindings are looked up by the event's watch name and events stay small;
* the notifier's routing file for maintenance windows and the silences topic (one
  definition of what is muted, the notifier's: :func:`gamsi.notifier.mute.muted_by`);
* the results topic: read back over ``loop_window`` at start to rebuild the decider's
  state (:meth:`Decider.replay`), then followed for the agents' results.

Every decision is a row on the results topic. For an issued command the row is written
(acks=all) *before* the command, and the event's offset is committed only after both:
killed at any point, a restarted remediator either finds the row (and does not issue
that attempt again) or issues the same attempt with the same command id, which an agent
refuses as a replay. ``where: central`` bindings run here, through the agent's own
checks and runner (:class:`gamsi.collector.remediate.CommandGuard`).
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections import Counter
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from gamsi.collector.remediate import CommandGuard, SeenStore, state_dir
from gamsi.deadletter import screen
from gamsi.kafka_auth import kafka_client_options, producer_options
from gamsi.metrics import SelfReport, watch_consumer
from gamsi.notifier.mute import muted_by
from gamsi.notifier.routing import RoutingConfig, load_routing
from gamsi.notifier.silence_store import start_following
from gamsi.notifier.silences import SilenceBook
from gamsi.remediator import records as R
from gamsi.remediator.audit import read_rows
from gamsi.remediator.decide import Decider, MutedBy, Output
from gamsi.remediator.keys import key_id, keygen, load_private, sign
from gamsi.remediator.records import (
    Command,
    Remediation,
    command_payload,
    encode_remediation,
    signed_envelope,
)
from gamsi.schemas.codec import decode_severity_event
from gamsi.schemas.records import SeverityEvent
from gamsi.settings import Settings
from gamsi.streams.events import NODATA_SUFFIX
from gamsi.streams.policy.load import load_policy
from gamsi.streams.policy.match import effective_watches
from gamsi.streams.policy.model import Policy
from gamsi.streams.policy.remediate import Binding
from gamsi.topics import ensure_topics

log = logging.getLogger(__name__)


def private_key_path(settings: Settings) -> Path:
    given = settings.remediator.private_key_file
    return Path(given).expanduser() if given else settings.data_dir / "remediator/ed25519.key"


class Signer:
    """Signs commands with the remediator's private key (loaded once).

    With ``[remediator] private_key_file`` unset and no key at the default path yet,
    ``create`` makes the pair there first (the first start of `gamsi up`); a configured
    path must hold a key (KeyFileError otherwise: a typo must not mint a new identity).
    """

    def __init__(self, settings: Settings, create: bool = False) -> None:
        path = private_key_path(settings)
        if create and not settings.remediator.private_key_file and not path.exists():
            keygen(path)
            log.warning("made a new key pair; agents need the public key %s.pub", path)
        self.key = load_private(path)
        self.key_id = key_id(self.key.public_key())

    def envelope(self, command: Command) -> bytes:
        payload = command_payload(command)
        return signed_envelope(payload, sign(self.key, payload), self.key_id)


class PolicyBindings:
    """The bindings of an event's watch in the policy in force (swapped live)."""

    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        self._cache: dict[tuple[str, str, str, tuple[str, ...]], tuple[Binding, ...]] = {}

    def swap(self, policy: Policy, source: str) -> None:
        self.policy, self._cache = policy, {}

    def __call__(self, event: SeverityEvent) -> tuple[Binding, ...]:
        """Events carry no OS: the policy's default OS is tried first, then the others. A
        no-data event (watch ``NAME/nodata``) takes the bindings of watch NAME: a `where:
        central` script can act on a server whose agent went silent."""
        key = (event.host, event.watch, event.item, tuple(event.tags))
        if key not in self._cache:  # the decider asks again on every tick
            if len(self._cache) > 100_000:
                self._cache.clear()
            self._cache[key] = self._lookup(event)
        return self._cache[key]

    def _lookup(self, event: SeverityEvent) -> tuple[Binding, ...]:
        p = self.policy
        name = event.watch.removesuffix(NODATA_SUFFIX)
        oses = [p.default_os, *sorted({o for w in p.watches for o in w.hosts.os} - {p.default_os})]
        for os_name in oses:
            for e in effective_watches(p, event.host, os_name, event.tags):
                if e.watch.name == name and e.watch.item == event.item:
                    return e.watch.remediate
        return ()


def maintenance_check(settings: Settings, silences: SilenceBook | None = None) -> MutedBy:
    """The notifier's maintenance windows (its routing file) and silences, as the decider
    asks for them: ``maintenance NAME`` or ``silence ID until ... by ...: comment``."""
    path = settings.notifier.routing_file
    config: RoutingConfig | None = load_routing(path) if path else None

    def check(event: SeverityEvent, now: float) -> str | None:
        mute = muted_by(config, event, now, silences)
        return mute.text if mute else None

    return check


class Remediator:
    """Wires the decider to Kafka; :meth:`run` is the service loop."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.r = settings.remediator
        self.signer = Signer(settings, create=True)
        self.by = f"remediator@{socket.gethostname()}"
        self.bindings = PolicyBindings(
            load_policy(settings.streams.policy_path or None, settings.streams.default_os)
        )
        self.silences = SilenceBook()
        self.decider = Decider(
            self.r, self.bindings, maintenance_check(settings, self.silences), self.by
        )
        self.producer = AIOKafkaProducer(**producer_options(settings))
        self.central: CommandGuard | None = None
        self.replayed = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self.rows: Counter[str] = Counter()  # rows written by status: /metrics
        self.report = SelfReport(settings, "remediator", self.r.group_id)

    async def publish(self, out: Output) -> None:
        """Each row, then its command (or its central run); in this order, each acked."""
        for row, command in out:
            await self._row(row)
            if command is None:
                continue
            if row.runs_on == "central":
                task = asyncio.create_task(self._run_central(command))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
            else:
                await self.producer.send_and_wait(
                    self.r.commands_topic, self.signer.envelope(command), key=command.host.encode()
                )
            log.info("issued %s on %s (attempt %d)", command.script, command.host, command.attempt)

    async def _row(self, row: Remediation) -> None:
        await self.producer.send_and_wait(
            self.r.results_topic, encode_remediation(row), key=row.host.encode()
        )
        self.rows[row.status] += 1
        if row.status != R.ISSUED:
            log.info("%s %s on %s: %s", row.status, row.script, row.host, row.reason)

    async def _run_central(self, command: Command) -> None:
        if self.central is None:
            store = SeenStore(state_dir(self.settings) / "central", time.time())
            key, host = (self.signer.key.public_key(),), socket.gethostname()
            self.central = CommandGuard(self.settings, key, host, store, any_host=True)
        # the decider hears of it from the results topic, like any agent's result
        await self._row(await self.central.execute(command, time.time()))

    async def _on_row(self, row: Remediation) -> None:
        """Until caught up a row rebuilds the state; then an agent's result feeds the
        decider and a manual run counts for the loop guard."""
        if not self.replayed.is_set():
            self.decider.replay(row)
        elif row.status in R.RESULTS:
            await self.publish(self.decider.on_result(row, time.time()))
        elif row.status == R.ISSUED and not row.incident:
            self.decider.note_manual(row.host, row.script, row.ts)

    async def run(self, stop: asyncio.Event) -> None:
        from gamsi.streams.policy.feed import follow_policies

        s = self.settings
        await ensure_topics(s)
        results = AIOKafkaConsumer(**kafka_client_options(s), group_id=None)
        events = AIOKafkaConsumer(
            s.kafka.events_topic,
            **kafka_client_options(s),
            group_id=self.r.group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
        )
        policies = asyncio.Event()
        self._figures(events)
        await self.producer.start()
        await results.start()
        since = time.time() - max(self.r.loop_window, 86400.0)
        rows = read_rows(
            results, self.r.results_topic, since, self._on_row, follow=True, caught_up=self.replayed
        )
        tasks = [
            asyncio.create_task(follow_policies(s, self.bindings.swap, policies)),
            asyncio.create_task(rows),
        ]
        await self.report.start("[remediator] metrics_port", self.r.metrics_port)
        try:
            for ready, task in ((policies, tasks[0]), (self.replayed, tasks[1])):
                await _until(ready, task)
            log.info("state rebuilt from %s; policy in force", self.r.results_topic)
            tasks.append(await start_following(s, self.silences))
            await events.start()
            try:
                await self._consume(events, stop)
            finally:
                await events.stop()
        finally:
            for task in [*tasks, *self._tasks]:
                task.cancel()
            await asyncio.gather(*tasks, *self._tasks, return_exceptions=True)
            await results.stop()
            await self.producer.stop()
            await self.report.close()

    def _figures(self, events: AIOKafkaConsumer) -> None:
        f = self.report.figures
        f.counter(
            "gamsi_remediator_rows_total",
            "Remediation rows written by status (issued, skipped, succeeded, failed...).",
            lambda: {(k,): v for k, v in self.rows.items()},
            ("status",),
        )
        watch_consumer(f, self.report.health, events, self.r.group_id)

    def _decide(self, value: bytes) -> Any:
        return self.decider.on_event(decode_severity_event(value), time.time())

    async def _consume(self, events: AIOKafkaConsumer, stop: asyncio.Event) -> None:
        log.info("remediator consuming %s as %s", self.settings.kafka.events_topic, self.r.group_id)
        next_tick = time.time()
        while not stop.is_set():
            batch = await events.getmany(timeout_ms=int(self.r.tick_interval * 1000))
            for messages in batch.values():
                for message in messages:
                    # Total: any exception of a record skips it (the notifier dead-letters
                    # unreadable events; one that breaks the decider is logged here).
                    decisions, refused = screen(message, self._decide, "remediator")
                    if refused is not None:
                        log.warning(
                            "event at offset %d skipped: %s", message.offset, refused.reason
                        )
                        continue
                    await self.publish(decisions)
            if batch:
                await events.commit()
            if time.time() >= next_tick:
                await self.publish(self.decider.tick(time.time()))
                next_tick = time.time() + self.r.tick_interval


async def _until(ready: asyncio.Event, task: asyncio.Task[Any]) -> None:
    """Wait for ``ready``; raise what ``task`` (the one that sets it) died of, if it did."""
    waiter = asyncio.create_task(ready.wait())
    await asyncio.wait([waiter, task], return_when=asyncio.FIRST_COMPLETED)
    waiter.cancel()
    if not ready.is_set():
        task.result()


async def run_remediator(settings: Settings, stop: asyncio.Event | None = None) -> None:
    """Run until ``stop`` is set (forever if None)."""
    await Remediator(settings).run(stop or asyncio.Event())
