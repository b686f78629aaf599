"""Random timelines through the notifier's pipeline: nothing escapes, nobody hears of a
problem's end who did not hear of the problem (issue 9, "Done when").

Each example is a random sequence of transitions (any order, any severity, items
sometimes missing), acks and undos, ticks, restarts and channel failures, on a
routing file with severity filters, hours, escalation, re-notification and a
maintenance window.
"""

from __future__ import annotations

from dataclasses import replace

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gamsi.notifier.channels import PermanentError, RetryableError

from .conftest import Harness, event

ROUTING = """
defaults: {group_window: 2s}
channels: {slack: {type: console}, sms: {type: console}, mail: {type: console}}
recipients:
  ops:
    contacts:
      - {channel: slack, to: "#ops", severities: [danger, urgent, fatal]}
      - {channel: sms, to: "+8210", hours: "08:30-09:30", severities: [urgent, fatal]}
  boss: {contacts: [{channel: mail, to: boss@example.com}]}
routes:
  - name: all
    match: {min_severity: caution}
    recipients: [ops]
    renotify_every: 5m
    escalate: [{after: 3m, recipients: [boss]}]
maintenance:
  - {name: swap, hosts: [db-1], start: "2027-01-15T08:20:00Z", end: "2027-01-15T08:40:00Z"}
"""

HOSTS = ("web-1", "db-1")
TRANSITIONS = ("raise", "escalate", "deescalate", "recover")

step = st.one_of(
    st.tuples(
        st.just("event"),
        st.sampled_from(HOSTS),
        st.sampled_from(TRANSITIONS),
        st.integers(0, 5),
        st.booleans(),
    ),
    st.tuples(st.just("ack"), st.sampled_from(HOSTS), st.booleans()),
    st.tuples(st.just("wait"), st.integers(1, 400)),
    st.tuples(st.just("restart")),
    st.tuples(st.just("fail"), st.sampled_from(("slack", "sms", "mail")), st.booleans()),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(step, max_size=40))
async def test_random_timelines_never_raise_and_endings_go_only_to_the_told(
    steps: list[tuple],
) -> None:
    h = Harness(ROUTING)
    for n, s in enumerate(steps):
        if s[0] == "event":
            _, host, transition, severity, no_item = s
            e = event(host, transition, max(severity, 1), eid=f"e{n}", ts=h.clock.now)
            if transition == "escalate":
                e = replace(e, previous=max(severity - 1, 0))
            if transition == "deescalate":
                e = replace(e, previous=min(severity + 1, 5))
            if no_item:
                e = replace(e, item="")
            await h.push(e)
        elif s[0] == "ack":
            problem = next(
                (p for p in h.pipeline.book.problems.values() if p.event.host == s[1]), None
            )
            if problem is not None:
                h.ack(problem.opened_by, "kim", undo=s[2])
        elif s[0] == "wait":
            await h.advance(s[1])
        elif s[0] == "restart":
            h.pipeline = h.build()
        else:
            failure = PermanentError("refused") if s[2] else RetryableError("busy")
            h.channels[s[1]].failures = [failure] * 3
    await h.advance(3600)  # every held recovery is due,
    await h.advance(10)  # and every storm window has closed
    await h.pipeline.flush(h.clock.now + 10)  # (a period may begin at that very tick)
    assert len(h.pipeline.grouper) == 0
    _check_endings_went_to_the_told(h)


def _check_endings_went_to_the_told(h: Harness) -> None:
    """Every de-escalation or recovery went to a contact that had a message about that
    problem before (a raise, an escalation or a follow-up, sent)."""
    told: set[tuple[str, str, str, str]] = set()
    for channel in h.channels.values():
        for m in channel.sent:
            for e in m.events:
                who = (e.host, e.watch, m.channel, m.address)
                if m.kind in {"deescalate", "recover"}:
                    assert who in told, (m.kind, who)
                else:
                    told.add(who)
