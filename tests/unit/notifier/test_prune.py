"""The ledger's markers are removed once no crash or failover can need them, and not before."""

from __future__ import annotations

from gamsi.notifier.ownership import partition_of
from gamsi.notifier.prune import OLD_FORMAT_KEEP, expired, min_keep
from gamsi.notifier.retry import RetryPolicy

from .conftest import Harness, event

ROUTING = """
channels: {slack: {type: console}}
recipients: {ops: {contacts: [{channel: slack, to: "#ops"}]}}
routes: [{name: prod, recipients: [ops], renotify_every: 1h}]
"""

DAY = 86400.0


def markers(h: Harness) -> list[str]:
    return sorted(k for k in h.ledger.data if k.startswith(("sent:", "pending:")))


async def test_a_closed_problems_markers_go_after_the_keep_time_an_open_ones_stay() -> None:
    h = Harness(ROUTING)
    await h.push(event("web-1"), event("web-2"))
    await h.push(event("web-1", "recover"))
    closed = [k for k in markers(h) if "web-1" in k]
    assert len(closed) == 2  # its raise and its recovery
    assert all(h.ledger.data[k]["p"] == "web-1|cpu-high|cpu.util|" for k in closed)
    await h.advance(DAY - 60)
    assert h.pipeline.prune(h.clock.now) == []  # younger than a day
    await h.advance(3 * 3600)  # the next sweep, more than a day after
    assert [k for k in markers(h) if "web-1" in k] == []
    assert [k for k in markers(h) if "web-2" in k]  # open: its raise and re-notifications stay
    assert len(h.sent("slack")) >= 2  # …and no re-notification went out twice:
    keys = [m.key for m in h.sent("slack")]
    assert len(keys) == len(set(keys))
    assert not [k for k in h.ledger.data if k.startswith(("thread:", "problem:")) and "web-1" in k]


def test_expired_keeps_live_unowned_untimed_and_young_markers() -> None:
    now, keep = 10 * DAY, DAY
    old, young = now - keep - 1, now - keep + 1
    items = [
        ("sent:a", {"r": "sent", "ts": old, "p": "h1|w|i|"}),  # closed, old: goes
        ("pending:b", {"n": ["b"], "ts": old, "p": "h1|w|i|"}),  # goes too
        ("sent:c", {"r": "sent", "ts": young, "p": "h1|w|i|"}),  # young
        ("sent:d", {"r": "sent", "ts": old, "p": "h2|w|i|"}),  # its problem is open
        ("sent:e", {"r": "sent", "ts": old, "p": "h3|w|i|"}),  # another notifier's host
        ("sent:f", {"r": "sent", "ts": old}),  # no problem key: kept for the events' retention
        ("sent:g", {"r": "sent", "ts": now - OLD_FORMAT_KEEP - 1}),  # …and then goes
        ("pending:h", {"n": ["h"]}),  # no time: kept
        ("thread:i", {"ref": "1.0", "ts": old, "p": "h1|w|i|"}),  # not a marker
    ]
    gone = expired(items, {"h2|w|i|"}, now, keep, lambda host: host != "h3")
    assert gone == ["sent:a", "pending:b", "sent:g"]


def test_the_keep_time_covers_twice_the_longest_wait_and_retries() -> None:
    policy = RetryPolicy(attempts=3, first_delay=1.0)  # retries after 1 s and 2 s
    assert min_keep([0.1, 600.0], policy) == 2 * (600 + 3 + 3 * 60)


async def test_a_long_group_window_outlives_a_short_ledger_keep() -> None:
    h = Harness(ROUTING.replace("renotify_every: 1h", "group_window: 1h"))
    h.pipeline.options.ledger_keep = 60.0
    await h.push(event("web-1"))
    await h.advance(3601)
    await h.push(event("web-1", "recover"))
    await h.advance(3601)
    assert len(markers(h)) == 2  # the raise's is an hour old: kept for 2 × (1 h + retries)
    await h.advance(3 * 3600)
    assert markers(h) == []


async def test_only_the_owner_of_a_hosts_partition_writes_its_tombstones() -> None:
    h = Harness(ROUTING)
    hosts = [f"web-{i}" for i in range(10)]
    for host in hosts:
        await h.push(event(host))
        await h.push(event(host, "recover"))
    h.pipeline.ownership.assign({0}, 2)
    await h.advance(2 * DAY)
    left = {h.ledger.data[k]["p"].split("|")[0] for k in markers(h)}
    assert left == {x for x in hosts if partition_of(x, 2) == 1}
