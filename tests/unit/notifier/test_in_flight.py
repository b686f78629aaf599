"""Work in flight is buffered once (issue 9 item 11): a delivery already waiting in a
storm window is not buffered again, from a tick or from a redelivered event."""

from __future__ import annotations

from .conftest import Harness, event

STORM = """
defaults: {group_window: 5s}
channels: {slack: {type: console}}
recipients: {ops: {contacts: [{channel: slack, to: "#ops"}]}}
routes: [{name: all, recipients: [ops], renotify_every: 10m}]
"""


async def test_a_renotification_is_buffered_once_while_ticks_come_every_second() -> None:
    h = Harness(STORM)
    await h.push(event("db-1"), flush=False)
    for _ in range(10 * 60 + 10):  # ticks every second, up to 10 min 10 s
        await h.advance(1)
    _raise, renotify = h.sent("slack")
    assert renotify.kind == "renotify"
    assert [e.host for e in renotify.events] == ["db-1"]
    records = [r for r in h.sink.records if r["transition"] == "renotify"]
    assert [r["result"] for r in records] == ["sent"]


async def test_an_event_redelivered_while_it_waits_is_one_delivery_and_frees_both_offsets() -> None:
    h = Harness(STORM)
    e = event("db-1")
    h.pipeline.accept(e, ("p", 0), h.clock.now)
    h.clock.now += 2
    h.pipeline.accept(e, ("p", 1), h.clock.now)  # the same event again (a rebalance, a replay)
    assert len(h.pipeline.grouper) == 1
    assert await h.pipeline.flush(h.clock.now) == []
    h.clock.now += 4
    done = await h.pipeline.flush(h.clock.now)
    assert sorted(done) == [("p", 0), ("p", 1)]
    (message,) = h.sent("slack")
    assert len(message.events) == 1
    assert [r["result"] for r in h.sink.records] == ["sent"]


async def test_an_escalation_step_is_buffered_once() -> None:
    routing = STORM.replace(
        "renotify_every: 10m}]",
        "escalate: [{after: 1m, recipients: [ops]}]}]",
    )
    h = Harness(routing)
    await h.push(event("db-1"), flush=False)
    for _ in range(75):
        await h.advance(1)
    assert [m.kind for m in h.sent("slack")] == ["raise", "escalation"]
    assert len(h.sent("slack")[1].events) == 1
