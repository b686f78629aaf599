"""Two `gamsi notifier run` processes in one consumer group, on the real broker.

They share a 4-partition events topic. The first test kills one with SIGKILL while a
webhook message of its partitions is in flight: the other takes its partitions over
after the session timeout, and every event reaches Slack exactly once and the webhook
receiver once per idempotency key (the in-flight one repeated with its key). The
second starts a second notifier and then kills the owner of a problem in the middle
of its re-notification schedule: each re-notification comes once, never before it
is due, and none is missed.
"""

from __future__ import annotations

import asyncio
import re
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import replace
from pathlib import Path

import pytest

from gamsi.notifier.ledger import read_map
from gamsi.notifier.ownership import partition_of
from gamsi.schemas.codec import encode
from gamsi.schemas.records import SeverityEvent
from gamsi.settings import Settings
from gamsi.testing.http import serve
from gamsi.topics import ensure_topics
from tests.integration.kafka_io import gamsi_service, produce, until
from tests.integration.test_notifier_restart import key_of
from tests.integration.test_notifier_service import event
from tests.integration.test_notifier_sigkill import DedupReceiver, _wait_committed
from tests.support.slack_standin import SlackStandIn, slack_standin  # noqa: F401

PARTITIONS = 4
SESSION = 6.0  # the broker's smallest session timeout
TOKEN = "xoxb-failover-test"
ASSIGNED = re.compile(r"partitions \[([\d, ]*)\] assigned")

ROUTING = """
channels:
  slack: {{type: slack, token_env: GAMSI_TEST_SLACK_TOKEN, channel: "#ops", base_url: "{slack}"}}
  hook: {{type: webhook, url: "{hook}"}}
recipients:
  ops: {{contacts: [{contacts}]}}
routes: [{{name: all, recipients: [ops]{extra}}}]
"""
SLACK = '{channel: slack, to: "#ops"}'
BOTH = f"{SLACK}, {{channel: hook, to: ops}}"


@pytest.fixture
def group(settings: Settings, unique: str, tmp_path: Path) -> Settings:
    """Settings of a notifier group on a 4-partition events topic, fast failover."""
    s = replace(
        settings,
        kafka=replace(settings.kafka, events_topic=f"t-{unique}.events4", partitions=PARTITIONS),
        notifier=replace(
            settings.notifier, storm_window=0.0, ack_port=0, tick_interval=0.2,
            session_timeout=SESSION, routing_file=str(tmp_path / "routing.yaml"),
        ),
    )  # fmt: skip
    asyncio.run(ensure_topics(s))
    return s


class Notifiers:
    """`gamsi notifier run` subprocesses with their own logs, all in one group."""

    def __init__(self, settings: Settings, tmp_path: Path, stack: ExitStack) -> None:
        self.settings, self.tmp_path, self.stack = settings, tmp_path, stack
        self.procs: list[subprocess.Popen[bytes]] = []
        self.logs: list[Path] = []

    def route(self, slack: str, hook: str, contacts: str, extra: str = "") -> None:
        """Write the group's routing file."""
        text = ROUTING.format(slack=slack, hook=hook, contacts=contacts, extra=extra)
        Path(self.settings.notifier.routing_file).write_text(text)

    def start(self) -> int:
        log = self.tmp_path / f"notifier-{len(self.procs)}.log"
        env = {"GAMSI_TEST_SLACK_TOKEN": TOKEN}
        proc = self.stack.enter_context(
            gamsi_service(self.settings, "notifier", "run", log=log, extra_env=env)
        )
        self.procs.append(proc)
        self.logs.append(log)
        return len(self.procs) - 1

    def owned(self, i: int) -> set[int] | None:
        """The partitions notifier ``i`` was last assigned (None: none yet)."""
        found = ASSIGNED.findall(self.logs[i].read_text(errors="replace"))
        return {int(p) for p in found[-1].split(",") if p.strip()} if found else None

    async def settled(self, alive: list[int]) -> list[set[int]]:
        """Wait until the ``alive`` notifiers own disjoint sets covering every partition."""

        async def check() -> list[set[int]] | None:
            for i in alive:
                if self.procs[i].poll() is not None:
                    raise AssertionError(self.logs[i].read_text()[-3000:])
            owned = [self.owned(i) or set() for i in alive]
            whole = set().union(*owned) == set(range(PARTITIONS))
            ok = whole and sum(map(len, owned)) == PARTITIONS and all(owned)
            return owned if ok else None

        return await until(check, f"notifiers {alive} share the partitions", within=90)

    def kill(self, i: int) -> None:
        self.procs[i].kill()  # SIGKILL: no flush, no commit, no leaving the group
        self.procs[i].wait()


@pytest.fixture
def notifiers(group: Settings, tmp_path: Path) -> Iterator[Notifiers]:
    with ExitStack() as stack:
        yield Notifiers(group, tmp_path, stack)


def hosts_on(partitions: set[int], count: int, prefix: str) -> list[str]:
    names = (f"{prefix}-{i:03d}" for i in range(10_000))
    return [h for h in names if partition_of(h, PARTITIONS) in partitions][:count]


async def send(settings: Settings, events: list[SeverityEvent]) -> None:
    topic = settings.kafka.events_topic
    await produce(settings, topic, [(e.host.encode(), encode(e)) for e in events])


def slack_count(standin: SlackStandIn, recoveries: bool) -> Counter[str]:
    """How many Slack messages name each host: recoveries, or the others (raises)."""
    return Counter(
        host
        for m in standin.messages
        if ("RECOVERED" in m["text"]) == recoveries
        for host in set(re.findall(r"(?:web|new)-\d{3}", m["text"]))
    )


async def test_a_killed_notifiers_partitions_are_taken_over_and_each_event_told_once(
    group: Settings,
    notifiers: Notifiers,
    slack_standin: SlackStandIn,  # noqa: F811
) -> None:
    receiver = DedupReceiver()
    runner, port = await serve("/{tail:.*}", receiver.handle)
    try:
        notifiers.route(slack_standin.base_url, f"http://127.0.0.1:{port}/hook", BOTH)
        first, second = notifiers.start(), notifiers.start()
        owned = await notifiers.settled([first, second])
        hosts = hosts_on(set(range(PARTITIONS)), 24, "web")
        await send(group, [event(h) for h in hosts])
        await slack_standin.wait_for(lambda sl: len(slack_count(sl, False)) == 24, 60)
        await _wait_committed(group, 24)  # every raise answered by both receivers
        # a recovery of the first notifier's partitions in flight at the webhook: kill there
        victim = hosts_on(owned[0], 1, "web")[0]
        receiver.release.clear()
        receiver.arrived.clear()
        await send(group, [event(victim, "recover")])
        await asyncio.wait_for(receiver.arrived.wait(), 60)
        await slack_standin.wait_for(lambda sl: slack_count(sl, True)[victim] == 1, 60)
        notifiers.kill(first)
        receiver.release.set()
        killed_at = time.monotonic()
        later = hosts_on(owned[0], 6, "new") + hosts_on(owned[1], 6, "new")
        await send(group, [event(h, "recover") for h in hosts if h != victim])
        await send(group, [event(h) for h in later])
        await notifiers.settled([second])
        took_over = time.monotonic() - killed_at
        await slack_standin.wait_for(lambda sl: len(slack_count(sl, True)) == 24, 90)
        await slack_standin.wait_for(lambda sl: len(slack_count(sl, False)) == 36, 90)
        await _wait_committed(group, 24 + 24 + 12)
    finally:
        await runner.cleanup()
    raised, recovered = slack_count(slack_standin, False), slack_count(slack_standin, True)
    assert {h: n for h, n in raised.items() if n != 1} == {}
    assert {h: n for h, n in recovered.items() if n != 1} == {}
    assert sorted(raised) == sorted(hosts + later)
    threads = {m["ts"]: m for m in slack_standin.messages if not m.get("thread_ts")}
    for m in slack_standin.messages:
        if "RECOVERED" in m["text"]:  # in the thread of its own raise
            assert m["thread_ts"] in threads
            assert set(re.findall(r"web-\d{3}", threads[m["thread_ts"]]["text"])) >= set(
                re.findall(r"web-\d{3}", m["text"])
            )
    assert receiver.hosts() == Counter([*hosts, *hosts, *later])  # each event once, by key
    repeats = [k for k, n in Counter(receiver.keys).items() if n > 1]
    (repeat,) = repeats  # the message in flight at the kill, sent again with its own key
    assert receiver.accepted[repeat] == [victim]
    print(f"session timeout {SESSION:.0f} s; taken over {took_over:.1f} s after the kill")


async def test_a_rebalance_mid_schedule_sends_the_next_renotification_once_on_time(
    group: Settings,
    notifiers: Notifiers,
    slack_standin: SlackStandIn,  # noqa: F811
) -> None:
    every = 20.0
    extra = f", renotify_every: {every:.0f}s"
    notifiers.route(slack_standin.base_url, "http://127.0.0.1:9/", SLACK, extra)
    first = notifiers.start()
    await notifiers.settled([first])
    host = "web-001"
    await send(group, [event(host)])
    await slack_standin.wait_for(lambda sl: len(sl.posted) == 1, 60)
    ledger: dict[str, dict] = {}
    await read_map(group, group.notifier.ledger_topic, ledger)
    opened = ledger[f"problem:{host}|cpu-high|cpu.util|"]["first_at"]
    second = notifiers.start()  # joins mid-schedule: a rebalance before renotify:1
    owned = await notifiers.settled([first, second])
    await slack_standin.wait_for(lambda sl: len(sl.posted) >= 2, every + 60)
    owner = [first, second][0 if partition_of(host, PARTITIONS) in owned[0] else 1]
    notifiers.kill(owner)  # the owner dies between renotify:1 and renotify:2
    await notifiers.settled([second if owner == first else first])
    await slack_standin.wait_for(lambda sl: len(sl.posted) >= 4, 3 * every + 60)  # renotify:3
    steps = [key_of(m).partition(":renotify:")[2] or "raise" for m in slack_standin.posted]
    assert steps == ["raise", "1", "2", "3"]  # each once, none missed
    posts = [r for r in slack_standin.requests if r.method == "chat.postMessage"]
    for request in posts[1:]:
        n = int(key_of(request.body).rpartition(":")[2])
        assert request.at >= opened + n * every  # never before it is due
        assert request.at < opened + n * every + 60  # and not a period late
    assert all(m["thread_ts"] == slack_standin.messages[0]["ts"] for m in slack_standin.posted[1:])


async def test_a_notifier_joining_while_messages_wait_in_storm_windows_sends_nothing_twice(
    group: Settings,
    notifiers: Notifiers,
    slack_standin: SlackStandIn,  # noqa: F811
) -> None:
    notifiers.settings = replace(
        group, notifier=replace(group.notifier, storm_window=15.0)
    )  # a window longer than the second notifier takes to join
    notifiers.route(slack_standin.base_url, "http://127.0.0.1:9/", SLACK)
    first = notifiers.start()
    await notifiers.settled([first])
    hosts = hosts_on(set(range(PARTITIONS)), 16, "web")
    await send(notifiers.settings, [event(h) for h in hosts])
    second = notifiers.start()  # the rebalance: the first sends what waits, then hands over
    await notifiers.settled([first, second])
    await slack_standin.wait_for(lambda sl: len(slack_count(sl, False)) == 16, 60)
    await send(notifiers.settings, [event(h, "recover") for h in hosts])
    await slack_standin.wait_for(lambda sl: len(slack_count(sl, True)) == 16, 60)
    await _wait_committed(notifiers.settings, 32)
    assert slack_count(slack_standin, False) == Counter(hosts)
    assert slack_count(slack_standin, True) == Counter(hosts)
    revoked = "partitions [0, 1, 2, 3] revoked"
    assert revoked in notifiers.logs[first].read_text()
