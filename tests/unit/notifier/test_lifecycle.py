"""Timeline tests: re-notification, escalation and acknowledgement with an injected clock."""

from __future__ import annotations

from .conftest import Harness, event

ROUTING = """
channels: {slack: {type: console}, mail: {type: console}}
recipients:
  ops: {contacts: [{channel: slack, to: "#ops"}]}
  boss: {contacts: [{channel: mail, to: boss@example.com}]}
routes:
  - name: prod
    recipients: [ops]
    renotify_every: 30m
    escalate:
      - {after: 15m, recipients: [boss]}
"""

MINUTE = 60.0


def kinds(h: Harness, channel: str) -> list[str]:
    return [m.kind for m in h.sent(channel)]


async def test_renotify_and_escalate_while_unacknowledged() -> None:
    h = Harness(ROUTING)
    await h.push(event("web-1"))
    await h.advance(14 * MINUTE)
    assert kinds(h, "mail") == []
    await h.advance(1 * MINUTE)  # t = 15 m: escalation step 0
    assert kinds(h, "mail") == ["escalation"]
    await h.advance(14 * MINUTE)  # t = 29 m
    assert kinds(h, "slack") == ["raise"]
    await h.advance(1 * MINUTE)  # t = 30 m: re-notify the route and the escalated recipient
    assert kinds(h, "slack") == ["raise", "renotify"]
    assert kinds(h, "mail") == ["escalation", "renotify"]
    renotify = h.sent("slack")[1]
    assert renotify.thread_ref == "ts-1"
    assert "still active" in renotify.headline()
    for _ in range(10):  # ticks every minute until t = 40 m: nothing new
        await h.advance(MINUTE)
    assert kinds(h, "slack") == ["raise", "renotify"]
    await h.advance(20 * MINUTE)  # t = 60 m
    assert kinds(h, "slack") == ["raise", "renotify", "renotify"]


async def test_acknowledgement_stops_follow_ups_and_shows_in_the_recovery() -> None:
    h = Harness(ROUTING)
    raised = event("web-1")
    await h.push(raised)
    await h.advance(5 * MINUTE)
    assert h.ack(raised.event_id, "alice")
    await h.advance(60 * MINUTE)
    assert kinds(h, "slack") == ["raise"]
    assert kinds(h, "mail") == []
    await h.push(event("web-1", "recover"))
    recovery = h.sent("slack")[-1]
    assert recovery.kind == "recover"
    assert "Acknowledged by alice" in recovery.text()


async def test_recovery_ends_follow_ups_and_escalated_recipients_hear_it() -> None:
    h = Harness(ROUTING)
    await h.push(event("web-1"))
    await h.advance(16 * MINUTE)
    await h.push(event("web-1", "recover"))
    await h.advance(60 * MINUTE)
    assert kinds(h, "slack") == ["raise", "recover"]
    assert kinds(h, "mail") == ["escalation", "recover"]


async def test_restart_does_not_repeat_follow_ups() -> None:
    h = Harness(ROUTING)
    await h.push(event("web-1"))
    await h.advance(31 * MINUTE)
    sent = len(h.sent("slack")), len(h.sent("mail"))
    h.pipeline = h.build()  # restart: the book of open problems comes from the ledger
    await h.advance(1 * MINUTE)
    assert (len(h.sent("slack")), len(h.sent("mail"))) == sent
    await h.advance(30 * MINUTE)  # t = 62 m: the next one is due, once
    assert kinds(h, "slack") == ["raise", "renotify", "renotify"]
