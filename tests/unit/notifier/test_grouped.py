"""Grouped notifications (issue 10, section 3): one member cannot sink its group, every
message is bounded in size, and an idempotency key names exactly what it covers."""

from __future__ import annotations

from dataclasses import replace

from gamsi.notifier.channels import PermanentError, Receipt
from gamsi.notifier.message import MAX_EVENTS, Notification
from gamsi.notifier.outbox import message_key

from .conftest import SIMPLE, Harness, RecordingChannel, event


class Refusing(RecordingChannel):
    """Refuses (permanently) any message that lists a host in ``bad``, or every message."""

    def __init__(self, name: str, bad: set[str] | None = None) -> None:
        super().__init__(name)
        self.bad = bad
        self.calls = 0

    async def send(self, notification: Notification) -> Receipt:
        self.calls += 1
        if self.bad is None:
            raise PermanentError("slack chat.postMessage: invalid_auth")
        if any(e.host in self.bad for e in notification.events):
            raise PermanentError("hook: HTTP 400")
        return await super().send(notification)


def storm(h: Harness, hosts: list[str]) -> None:
    for i, host in enumerate(hosts):
        h.pipeline.accept(event(host), ("p", i), h.clock.now)


async def test_a_member_the_receiver_refuses_does_not_sink_its_group() -> None:
    h = Harness(SIMPLE, storm_window=5.0)
    h.channels["slack"] = channel = Refusing("slack", bad={"web-042", "web-077"})
    hosts = [f"web-{i:03d}" for i in range(100)]
    storm(h, hosts)
    h.clock.now += 6
    done = await h.pipeline.flush(h.clock.now)
    delivered = sorted(e.host for m in channel.sent for e in m.events)
    assert delivered == [x for x in hosts if x not in {"web-042", "web-077"}]
    failed = sorted(r["host"] for r in h.sink.records if r["result"] == "failed")
    assert failed == ["web-042", "web-077"]
    assert len(done) == 100
    assert channel.calls <= 30, channel.calls  # found by halving, not one per member


async def test_a_failure_every_member_gets_is_not_retried_member_by_member() -> None:
    h = Harness(SIMPLE, storm_window=5.0)
    h.channels["slack"] = channel = Refusing("slack")
    storm(h, [f"web-{i:03d}" for i in range(50)])
    h.clock.now += 6
    await h.pipeline.flush(h.clock.now)
    assert channel.calls == 3  # the message, its first member, its last member
    assert [r["result"] for r in h.sink.records] == ["failed"] * 50
    assert {r["error"] for r in h.sink.records} == {"slack chat.postMessage: invalid_auth"}


async def test_a_huge_event_is_cut_to_size_and_its_group_goes_out() -> None:
    h = Harness(SIMPLE, storm_window=5.0)
    big = replace(event("web-000"), message="x" * 500_000, host="h" * 5000)
    h.pipeline.accept(big, ("p", 0), h.clock.now)
    storm(h, [f"web-{i:03d}" for i in range(1, 100)])
    h.clock.now += 6
    await h.pipeline.flush(h.clock.now)
    (message,) = h.sent("slack")
    assert message.count == 100
    assert max(len(e.message) for e in message.events) <= 1000
    assert max(len(e.host) for e in message.events) <= 200
    assert len(message.text()) < 50_000
    assert [r["result"] for r in h.sink.records] == ["sent"] * 100


async def test_events_beyond_the_cap_are_counted_not_listed() -> None:
    h = Harness(SIMPLE, storm_window=5.0)
    storm(h, [f"web-{i:03d}" for i in range(MAX_EVENTS + 50)])
    h.clock.now += 6
    await h.pipeline.flush(h.clock.now)
    (message,) = h.sent("slack")
    assert (len(message.events), message.omitted, message.count) == (MAX_EVENTS, 50, 250)
    assert f"{MAX_EVENTS + 50} events on {MAX_EVENTS + 50} hosts" in message.headline()
    assert "… and 50 more" in message.text()


async def test_a_regrouped_message_gets_a_new_key_and_the_in_flight_part_its_old_one() -> None:
    h = Harness(SIMPLE, storm_window=5.0)
    first = [event(f"web-{i}") for i in range(3)]
    storm(h, [e.host for e in first])
    h.clock.now += 6
    groups = h.pipeline.grouper.due(h.clock.now)
    old_key = message_key(groups[0].deliveries)
    # a crash after the pending marker, before the answer: the ledger says "pending"
    await h.ledger.put_many({f"pending:{d.key}": {"n": [old_key]} for d in groups[0].deliveries})
    h.pipeline = h.build(storm_window=5.0)
    storm(h, [f"web-{i}" for i in range(3)] + [f"db-{i}" for i in range(4)])
    h.clock.now += 6
    await h.pipeline.flush(h.clock.now)
    again, fresh = h.sent("slack")
    assert again.key == old_key  # the same content: a receiver drops it by its key
    assert sorted(e.host for e in again.events) == ["web-0", "web-1", "web-2"]
    assert fresh.key != old_key
    assert sorted(e.host for e in fresh.events) == [f"db-{i}" for i in range(4)]


def test_message_keys_name_exactly_their_content() -> None:
    h = Harness(SIMPLE)
    ds = [d for i in range(4) for d in _route(h, event(f"web-{i}"))]
    assert message_key(ds[:1]) == ds[0].key
    assert message_key(ds) == message_key(list(reversed(ds)))
    assert len({message_key(ds), message_key(ds[:3]), message_key(ds[1:])}) == 3


def _route(h: Harness, e: object) -> list:
    from gamsi.notifier.route import route_event

    return route_event(h.config, e, h.clock.now)  # type: ignore[arg-type]


def test_channels_count_the_events_a_message_covers_but_does_not_list() -> None:
    """A message cut at the cap says how many it covers on every channel, listed or not."""
    from gamsi.notifier.channels.slack import blocks
    from gamsi.notifier.http_template import variables

    listed = [event(f"h{i}") for i in range(3)]
    n = Notification("r", "ops", "slack", "#ops", "raise", listed, 0.0, omitted=40)
    assert variables(n)["count"] == 43
    text = str(blocks(n))
    assert "… and 40 more" in text
    one = Notification("r", "ops", "slack", "#ops", "raise", listed[:1], 0.0, omitted=5)
    assert "*Host*" not in str(blocks(one))  # six events: a list, not one event's fields
