"""A fleet of Gamsi processes on one machine, driven the way a cluster test or a benchmark
drives it: several ``gamsi streams run`` workers and ``gamsi notifier run`` notifiers as
real subprocesses, a load of H hosts whose cpu.util breaches and recovers on a schedule,
and the events topic read back by event id.

Used by tests/integration/test_cluster_failover.py and bench/scaleout.py (which puts the
repository root on ``sys.path``). Every wait is bounded and fails at once, with the last
lines of the log, when a process the fleet did not kill has exited (:meth:`Fleet.check`;
the processes are gamsi.testing.process.Child, as the benchmarks' are).
"""

from __future__ import annotations

import asyncio
import inspect
import os
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from gamsi.schemas import MetricBatch, Sample, encode
from gamsi.schemas.codec import decode_severity_event
from gamsi.schemas.records import SeverityEvent
from gamsi.settings import Settings, to_environ
from gamsi.testing.process import Child

WATCH = "fleet-cpu"
SLACK_TOKEN = "xoxb-fleet-token"
IDS = {"group_id", "app_id"}
POLICY = f"""\
version: 1
use_defaults: false
watches:
  - name: {WATCH}
    item: cpu.util
    levels: {{urgent: ">= 90"}}
    hysteresis: 10
    nodata: {{after: 15s, severity: urgent}}
"""
"""One watch: a breach (>= 90) raises URGENT, a value under 80 recovers it, and a host
silent for 15 s raises no-data, which a fleet that keeps reporting must never see (not
even while its partition moves between workers: issue 16, item 3)."""


def fleet_settings(
    base: Settings, bootstrap: str, tmp: Path, tag: str, partitions: int = 6
) -> Settings:
    """``base`` on ``bootstrap`` with every topic, consumer group and app id its own
    (gamsi.events → ``<tag>.events``, gamsi-notifier → ``<tag>-notifier``), ``partitions``
    per topic, the fleet policy (written to ``tmp``), data under ``tmp`` and no fixed
    ports (metrics and ack API off)."""
    policy = tmp / "fleet-policy.yaml"
    policy.write_text(POLICY)
    renamed = {}
    for section in fields(base):
        values = getattr(base, section.name)
        names = {f.name for f in fields(values)}
        changes = {}
        for name in names:
            value = getattr(values, name)
            sep = "." if name.endswith("_topic") else "-" if name in IDS else ""
            if sep and value:  # an empty name follows another setting: kept
                changes[name] = f"{tag}{sep}{value.removeprefix('gamsi' + sep)}"
        renamed[section.name] = replace(values, **changes)
    s = replace(base, **renamed)
    return replace(
        s,
        paths=replace(s.paths, data_dir=str(tmp / "data")),
        kafka=replace(s.kafka, bootstrap=bootstrap, partitions=partitions),
        streams=replace(s.streams, policy_path=str(policy), metrics_port=0),
        notifier=replace(s.notifier, ack_port=0),
    )


def routing_file(tmp: Path, webhook_url: str, slack_base_url: str = "") -> Path:
    """A routing file sending every event to a webhook and, given its stand-in's base URL,
    to Slack (``#ops``): one recipient with those contacts. The notifier reads the Slack
    token from FLEET_SLACK_TOKEN (:data:`SLACK_TOKEN`)."""
    slack = (
        f'  slack: {{type: slack, token_env: FLEET_SLACK_TOKEN, base_url: "{slack_base_url}"}}\n'
    )
    contacts = ["{channel: hook, to: ops}"] + (
        ['{channel: slack, to: "#ops"}'] if slack_base_url else []
    )
    path = tmp / "fleet-routing.yaml"
    path.write_text(
        "channels:\n"
        f'  hook: {{type: webhook, url: "{webhook_url}"}}\n'
        + (slack if slack_base_url else "")
        + f"recipients:\n  ops: {{contacts: [{', '.join(contacts)}]}}\n"
        "routes: [{name: all, recipients: [ops]}]\n"
    )
    return path


class Fleet:
    """Gamsi processes sharing ``settings``; each has its own data directory and log in
    ``tmp``. ``env`` adds variables (a channel's token). A context manager: every
    process is stopped on exit."""

    def __init__(self, settings: Settings, tmp: Path, env: dict[str, str] | None = None) -> None:
        self.tmp = tmp
        self.env = {**os.environ, **to_environ(settings), **(env or {})}
        self.env.pop("GAMSI_CONFIG", None)
        self.procs: dict[str, Child] = {}

    def start(self, kind: str, name: str) -> Child:
        """Start ``gamsi KIND run`` (``streams``, ``notifier``) as ``name`` (log: name.log)."""
        env = {**self.env, "GAMSI_PATHS_DATA_DIR": str(self.tmp / name)}
        argv = [sys.executable, "-m", "gamsi", kind, "run"]
        proc = self.procs[name] = Child(name, argv, self.tmp / f"{name}.log", env)
        return proc

    def kill(self, name: str) -> None:
        self.procs[name].kill()

    def restart(self, name: str) -> None:
        self.procs[name].start()

    def check(self) -> None:
        """Raise ProcessDied for the first process that exited and was not killed."""
        for proc in self.procs.values():
            proc.check()

    async def until(
        self,
        condition: Callable[[], Any],
        what: str | Callable[[], str],
        within: float,
        every: float = 0.2,
    ) -> Any:
        """Poll ``condition`` (plain or async) until it returns something truthy, which is
        returned; AssertionError naming ``what`` (or what it returns then) after ``within``
        s, ProcessDied at once."""
        deadline = time.monotonic() + within
        while True:
            self.check()
            result = condition()
            if inspect.isawaitable(result):
                result = await result
            if result:
                return result
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"not within {within:.0f} s: {what if isinstance(what, str) else what()}"
                )
            await asyncio.sleep(every)

    def __enter__(self) -> Fleet:
        return self

    def __exit__(self, *exc: object) -> None:
        for proc in self.procs.values():
            proc.stop()


@dataclass
class Load:
    """``hosts`` hosts sending one batch (cpu.util only) every ``interval`` s. Host h is
    normal until ``h * half / hosts`` s after the start, then breached and normal by
    turns for ``half`` s each, so transitions are spread evenly over time and one host's
    transitions are ``half`` s apart. Every breached phase has its own value (91, 92...)
    and so has every normal one (10, 11...), so a notification's text names its
    transition. ``sent`` keeps every batch the broker acknowledged, in order."""

    hosts: int
    interval: float = 2.0
    half: float = 30.0
    prefix: str = "fleet"
    sent: list[MetricBatch] = field(default_factory=list)
    started: float = 0.0
    """When :meth:`run` began (s since epoch)."""

    def host(self, h: int) -> str:
        return f"{self.prefix}-{h:03d}"

    def value(self, h: int, elapsed: float) -> float:
        phase = int((elapsed - h * self.half / self.hosts) // self.half)
        if phase < 0:
            return 10.0
        return 91.0 + phase // 2 if phase % 2 == 0 else 10.0 + (phase + 1) // 2

    async def run(
        self,
        settings: Settings,
        seconds: float,
        on_round: Callable[[float], Awaitable[None]] | None = None,
    ) -> None:
        """Produce for ``seconds`` (acks=all, idempotent); after each round of batches,
        ``await on_round(elapsed)`` (the driver's kills and restarts)."""
        producer = AIOKafkaProducer(
            bootstrap_servers=settings.kafka.bootstrap,
            acks="all",
            enable_idempotence=True,
            linger_ms=5,
        )
        await producer.start()
        try:
            start = self.started = time.time()
            seq = 0
            while (elapsed := time.time() - start) < seconds:
                now = time.time()
                batches = [
                    MetricBatch(
                        self.host(h), now, [Sample("cpu.util", self.value(h, elapsed))],
                        seq=seq, interval=self.interval, os="linux", run=self.prefix,
                    )
                    for h in range(self.hosts)
                ]  # fmt: skip
                futures = [
                    await producer.send(
                        settings.kafka.metrics_topic, encode(b), key=b.host.encode()
                    )
                    for b in batches
                ]
                await asyncio.gather(*futures)
                self.sent.extend(batches)
                seq += 1
                if on_round is not None:
                    await on_round(elapsed)
                await asyncio.sleep(max(0.0, start + seq * self.interval - time.time()))
        finally:
            await producer.stop()

    def expected(self, settings: Settings) -> dict[str, SeverityEvent]:
        """The transitions the sent batches must yield, by event id: the worker's own
        engine (same policy) fed every host's batches in order, state kept in memory."""
        from gamsi.streams.app import configured_engine

        engine = configured_engine(settings)
        states: dict[str, Any] = {}
        out: dict[str, SeverityEvent] = {}
        for batch in self.sent:
            states[batch.host], events = engine.process(states.get(batch.host), batch)
            out.update((e.event_id, e) for e in events)
        return out

    def describe(self, events: list[SeverityEvent], partitions: int) -> str:
        """Where ``events`` are: how many per partition of their hosts, and the first and
        last of them (host, transition, seconds after the start)."""
        from aiokafka.partitioner import murmur2

        def where(e: SeverityEvent) -> int:
            return (murmur2(e.host.encode()) & 0x7FFFFFFF) % partitions

        events = sorted(events, key=lambda e: e.ts)
        per = Counter(where(e) for e in events)
        ends = [
            f"{e.host} {e.transition} +{e.ts - self.started:.1f} s"
            for e in events[:1] + events[-1:]
        ]
        return f"{len(events)} events, per partition {dict(sorted(per.items()))}, first/last {ends}"


async def committed_lag(settings: Settings, group: str, topic: str) -> dict[int, tuple[int, int]]:
    """{partition: (offset ``group`` committed, end offset)} for every partition of ``topic``
    (the committed offset is -1 where the group committed none)."""
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka.bootstrap)
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka.bootstrap)
    await admin.start()
    await consumer.start()
    try:
        parts = [TopicPartition(topic, p) for p in range(settings.kafka.partitions)]
        done = await admin.list_consumer_group_offsets(group, partitions=parts)
        ends = await consumer.end_offsets(parts)
        return {tp.partition: (done[tp].offset, ends[tp]) for tp in parts}
    finally:
        await consumer.stop()
        await admin.close()


class EventLog:
    """The events topic read from the start (committed records only), by event id."""

    def __init__(self, settings: Settings) -> None:
        self.counts: Counter[str] = Counter()
        self.events: dict[str, SeverityEvent] = {}
        self.appended: list[tuple[float, int, SeverityEvent]] = []
        """(broker timestamp s, partition, event) per record, in arrival order."""
        self.consumer = AIOKafkaConsumer(
            settings.kafka.events_topic,
            bootstrap_servers=settings.kafka.bootstrap,
            group_id=None,
            auto_offset_reset="earliest",
            isolation_level="read_committed",
        )

    async def __aenter__(self) -> EventLog:
        await self.consumer.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.consumer.stop()

    async def at_end(self) -> bool:
        """Read what has arrived; True once every partition is read to its end (the last
        stable offset: the end of what is committed)."""
        await self.poll()
        parts = self.consumer.assignment()
        ends = await self.consumer.end_offsets(list(parts))
        positions = {tp: await self.consumer.position(tp) for tp in parts}
        return bool(parts) and all(positions[tp] >= ends[tp] for tp in parts)

    async def poll(self) -> int:
        """Read what has arrived (waits up to 0.2 s); returns the records read so far."""
        for tp, messages in (await self.consumer.getmany(timeout_ms=200)).items():
            for m in messages:
                event = decode_severity_event(m.value)
                self.counts[event.event_id] += 1
                self.events[event.event_id] = event
                self.appended.append((m.timestamp / 1000, tp.partition, event))
        return len(self.appended)
