"""A flapping series in one storm window (gamsi.notifier.group): the last message a
contact gets about a series tells the series' latest event, whatever kinds the
window's groups hold and in whatever order they opened."""

from __future__ import annotations

from gamsi.notifier.message import Notification

from .conftest import SIMPLE, Harness, event

T0 = 1_800_000_000.0


def flaps(host: str, n: int, *, start: int = 0) -> list:
    """``n`` alternating raise/recover events of ``host``'s cpu.util, raise first."""
    kinds = ["raise", "recover"]
    return [
        event(host, kinds[i % 2], eid=f"{host}-{start + i}", ts=T0 + start + i) for i in range(n)
    ]


def last_word(sent: list[Notification], host: str) -> Notification:
    """The last message that mentions ``host``."""
    return [m for m in sent if any(e.host == host for e in m.events)][-1]


async def test_nine_alternating_events_leave_the_series_raised() -> None:
    h = Harness(SIMPLE, storm_window=5.0)
    await h.push(*flaps("vm", 9), flush=False)  # a backlog after a Kafka outage
    done = await h.advance(6)
    last = last_word(h.sent("slack"), "vm")
    assert last.kind == "raise"
    assert last.headline().startswith("[URGENT 긴급]")
    assert [e.event_id for e in last.events] == ["vm-8"]
    assert "Flapping: 8 earlier transitions" in last.text()
    assert all(m.kind != "recover" for m in h.sent("slack"))
    results = sorted(r for _, _, r in h.results())
    assert results == ["deduplicated"] * 8 + ["sent"]
    assert len(done) == 9  # every record's offset can be committed


async def test_two_series_flapping_to_opposite_states_each_end_on_their_latest() -> None:
    h = Harness(SIMPLE, storm_window=5.0)
    await h.push(event("old"), flush=False)
    await h.advance(6)  # told before the storm
    # the recovery group opens first, then both series flap, interleaved
    storm = [event("old", "recover", ts=T0)]
    for a, b in zip(flaps("vm", 9, start=1), flaps("db", 9, start=1), strict=True):
        storm += [a, b]
    storm = [e for e in storm if e.event_id != "db-9"]  # db ends on a recovery
    await h.push(*storm, flush=False)
    await h.advance(6)
    sent = h.sent("slack")
    assert last_word(sent, "vm").kind == "raise"
    assert last_word(sent, "old").kind == "recover"
    db = [m for m in sent if any(e.host == "db" for e in m.events)]
    assert [m.kind for m in db] == ["raise", "recover"]  # told first, then its ending
    assert [e.event_id for m in db for e in m.events if e.host == "db"] == ["db-7", "db-8"]
    assert db[1].thread_ref
    assert db[1].thread_ref != last_word(sent, "old").thread_ref


async def test_raise_escalate_deescalate_in_one_window_ends_on_the_deescalation() -> None:
    h = Harness(SIMPLE, storm_window=5.0)
    await h.push(event("web", "raise", 4), flush=False)
    await h.advance(6)
    h.pipeline.accept(event("web", "deescalate", 2), ("p", 0), h.clock.now)  # opens that group
    h.clock.now += 1
    steps = [event("vm", "raise", 2), event("vm", "escalate", 4), event("vm", "deescalate", 3)]
    for i, e in enumerate(steps, 1):
        h.pipeline.accept(e, ("p", i), h.clock.now)
    await h.advance(6)
    vm = [m for m in h.sent("slack") if any(e.host == "vm" for e in m.events)]
    assert [m.kind for m in vm] == ["escalate", "deescalate"]  # the raise folded in
    assert [e.severity for e in vm[-1].events if e.host == "vm"] == [3]
    assert "Flapping: 1 earlier transition in" in vm[0].text()
