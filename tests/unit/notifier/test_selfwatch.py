"""Pipeline problems (issue 13 item 6), judged without Kafka: raised once after the bound,
recovered once to whoever was told, in the raise's thread; routed, muted and falling back
like any event. The real broker stopped under a notifier: tests/integration/test_selfwatch.py."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from gamsi.health import KafkaWatch
from gamsi.notifier.route import FALLBACK_CHANNEL
from gamsi.notifier.selfwatch import HOST, WATCH, Finding, SelfWatch
from gamsi.notifier.silences import Silence
from gamsi.schemas.records import Severity
from gamsi.settings import load_settings

from .conftest import Harness

T = 1_800_000_000.0
ROUTING = """
channels: {ops: {type: console}, web: {type: console}}
recipients:
  oncall: {contacts: [{channel: ops, to: "#ops"}]}
  webteam: {contacts: [{channel: web, to: "#web"}]}
routes:
  - {name: pipeline, match: {watches: ["gamsi.*"]}, recipients: [oncall]}
  - {name: web, match: {hosts: ["web-*"]}, recipients: [webteam]}
"""


def watcher(h: Harness, **notifier: Any) -> SelfWatch:
    base = load_settings(environ={})
    settings = replace(base, notifier=replace(base.notifier, **notifier))
    return SelfWatch(settings, KafkaWatch(settings), h.pipeline)


def down(key: str = "down:gamsi-streams", after: float = 60.0) -> Finding:
    return Finding(
        key, "service.members", "gamsi-streams", 0, 1, Severity.URGENT,
        "the stream workers (gamsi-streams) are down", after,
    )  # fmt: skip


async def test_raised_once_after_the_bound_and_recovered_once_in_its_thread() -> None:
    h = Harness(ROUTING)
    w = watcher(h)
    for t in (0, 30, 59):  # still inside the bound: nobody told
        await w.judge([down()], T + t)
    assert h.sent("ops") == []
    for t in (60, 61, 120):  # told once, not on every check
        await w.judge([down()], T + t)
    (raised,) = h.sent("ops")
    assert (raised.kind, raised.severity) == ("raise", Severity.URGENT)
    e = raised.events[0]
    assert (e.host, e.watch, e.item) == (HOST, WATCH, "service.members")
    assert e.instance == "gamsi-streams"
    assert raised.text().startswith("[URGENT 긴급] gamsi service.members[gamsi-streams]")
    await w.judge([], T + 130)
    await w.judge([], T + 140)
    assert [n.kind for n in h.sent("ops")] == ["raise", "recover"]
    recovered = h.sent("ops")[1]
    assert recovered.thread_ref == "ts-1"  # the raise's reference: same Slack thread
    assert "healthy again after 130 s" in recovered.events[0].message
    assert h.sent("web") == []  # routed like any event: only the route that matches
    assert dict(w.counts) == {("ops", "sent"): 2}


async def test_a_condition_that_clears_inside_the_bound_is_never_told() -> None:
    h = Harness(ROUTING)
    w = watcher(h)
    await w.judge([down(after=60)], T)
    await w.judge([], T + 30)
    await w.judge([down(after=60)], T + 40)  # bad again: the bound counts from here
    await w.judge([down(after=60)], T + 99)
    assert h.sent("ops") == []
    await w.judge([down(after=60)], T + 100)
    assert [n.kind for n in h.sent("ops")] == ["raise"]


async def test_each_condition_is_its_own_problem() -> None:
    h = Harness(ROUTING)
    w = watcher(h)
    lag = Finding("lag:gamsi-history", "consumer.lag", "gamsi-history", 250_000, 100_000,
                  Severity.DANGER, "the history writer lags", 0)  # fmt: skip
    await w.judge([down(after=0), lag], T)
    assert sorted(n.events[0].item for n in h.sent("ops")) == ["consumer.lag", "service.members"]
    await w.judge([lag], T + 5)  # the workers are back; the lag stays
    assert [(n.kind, n.events[0].item) for n in h.sent("ops")][2:] == [
        ("recover", "service.members")
    ]


async def test_no_matching_route_goes_to_the_fallback() -> None:
    h = Harness(ROUTING.replace('watches: ["gamsi.*"]', 'watches: ["cpu-*"]'))
    w = watcher(h)
    await w.judge([down(after=0)], T)
    assert h.sent("ops") + h.sent("web") == []
    assert w.counts[(FALLBACK_CHANNEL, "sent")] == 1  # the log: nobody is left unpaged


async def test_a_silence_on_host_gamsi_mutes_it() -> None:
    h = Harness(ROUTING)
    silence = Silence(id="s1", starts=T - 1, ends=T + 3600, by="kim", hosts=("gamsi",))
    h.pipeline.silences.add(silence)
    w = watcher(h)
    await w.judge([down(after=0)], T)
    assert h.sent("ops") == []
    assert w.counts[("ops", "suppressed")] == 1


async def test_kafka_unreachable_is_found_only_once_kafka_had_answered() -> None:
    h = Harness(ROUTING)
    w = watcher(h, selfwatch_kafka_after=30.0)
    assert w.kafka_findings() == []  # never answered yet: the service's start is not an outage
    w.kafka.note(True)
    assert w.kafka_findings() == []
    w.kafka.note(False, "KafkaConnectionError: refused")
    (f,) = w.kafka_findings()
    assert (f.key, f.item, f.after, f.severity) == ("kafka", "kafka.unreachable_s", 30.0, 4)
    assert w.kafka.bootstrap in f.text


async def test_groups_that_cannot_be_asked_keep_their_problems_open() -> None:
    h = Harness(ROUTING)
    w = watcher(h)
    answers: list[list[Finding] | None] = [[down(after=0)], None, None, []]

    class Groups:
        async def findings(self) -> list[Finding] | None:
            return answers.pop(0)

        async def close(self) -> None:
            return None

    w._groups = Groups()  # type: ignore[assignment]
    w.kafka.note(True)
    for t in range(4):  # found, not asked twice (a broker hiccup), then gone
        await w.check(T + t)
        if t < 3:
            assert [n.kind for n in h.sent("ops")] == ["raise"]
    assert [n.kind for n in h.sent("ops")] == ["raise", "recover"]


async def test_only_the_owner_of_events_partition_0_tells_of_groups() -> None:
    """Two notifiers in one group see the same groups: only one of them pages (the owner
    of events partition 0), the other keeps quiet and never sends a false recovery."""

    class Groups:
        async def findings(self) -> list[Finding]:
            return [down(after=0.0)]

    h = Harness(ROUTING)
    w = watcher(h)
    w._groups = Groups()  # type: ignore[assignment]
    w.kafka.note(True)
    h.pipeline.ownership.assign({1}, 2)  # the other notifier owns partition 0
    await w.check(T)
    await w.check(T + 10)
    assert h.sent("ops") == []
    h.pipeline.ownership.assign({0, 1}, 2)  # it takes partition 0 over: it tells
    await w.check(T + 20)
    assert [n.kind for n in h.sent("ops")] == ["raise"]
    h.pipeline.ownership.assign({1}, 2)  # and loses it: what it raised stays, no recovery
    await w.check(T + 30)
    assert [n.kind for n in h.sent("ops")] == ["raise"]
