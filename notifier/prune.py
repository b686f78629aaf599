"""How long the ledger keeps idempotency markers, and which ones may go.

The ledger's ``sent:<key>`` and ``pending:<key>`` markers are what makes a delivery
go out once across SIGKILL and failover (docs/notifications.md, "Exactly once"):
a record whose offset was not committed is consumed again, and its deliveries
must be found ``sent``. They are needed while that can happen, and no longer:

- while the problem they belong to is open (its re-notification ``renotify:N`` is
  checked on every tick of its period; an open problem's markers are all kept);
- after it closed, as long as an event of it may be consumed again: its offset is
  committed once every delivery of it went out, so at most the longest group
  window plus the time a message may spend in retries. :func:`min_keep` doubles
  that; ``[notifier] ledger_keep`` (a day by default) is used when it is longer.

Markers carry their problem key (``p``) and their time (``ts``); a marker written
before they did is kept for :data:`OLD_FORMAT_KEEP` (the events topic's retention:
no event older than that can be consumed again). ``thread:`` keys are removed when
the problem's recovery goes out; ``problem:`` and ``held:`` when it closes and
its held recovery is delivered (:mod:`gamsi.notifier.lifecycle`).
"""

from __future__ import annotations

from collections.abc import Callable, Container, Iterable
from typing import Any

from gamsi.notifier.deliveries import Delivery, problem_key
from gamsi.notifier.ledger import Ledger
from gamsi.notifier.lifecycle import ProblemBook
from gamsi.notifier.retry import RetryPolicy
from gamsi.notifier.routing import RoutingConfig

MARKERS = ("sent:", "pending:")
"""Ledger key prefixes :func:`expired` may remove."""

OLD_FORMAT_KEEP = 30 * 86400.0
"""Seconds a marker without its problem key is kept: the events topic's retention."""

SEND_TIMEOUT = 60.0
"""Seconds one attempt of a send may take at most, for :func:`min_keep` (the HTTP
clients' timeouts are shorter)."""

PRUNE_EVERY = 300.0
"""Seconds between two sweeps of the ledger (:meth:`gamsi.notifier.pipeline.Pipeline.tick`)."""


def min_keep(windows: Iterable[float], policy: RetryPolicy) -> float:
    """Twice the longest a delivery may wait and retry before its record is committed:
    the longest group window (seconds) plus every retry delay and attempt of
    ``policy``. A closed problem's markers are kept at least this long."""
    retries = sum(policy.delay(i, None) for i in range(1, policy.attempts))
    return 2.0 * (max(windows, default=0.0) + retries + policy.attempts * SEND_TIMEOUT)


def host_of(problem: str) -> str:
    """The host of a problem key (``host|watch|item|instance``)."""
    return problem.partition("|")[0]


def expired(
    items: Iterable[tuple[str, dict[str, Any]]],
    live: Container[str],
    now: float,
    keep: float,
    owns: Callable[[str], bool] = lambda host: True,
) -> list[str]:
    """The marker keys among ``items`` (ledger key, value) that may be removed at ``now``.

    A marker goes once it is older than ``keep`` seconds and its problem is not in
    ``live`` (open, holding a recovery, or with a message waiting); only markers of
    hosts this notifier ``owns`` (so that one notifier writes each tombstone). A
    marker without a time is kept; one without a problem key after
    :data:`OLD_FORMAT_KEEP`.
    """
    out = []
    for key, value in items:
        ts = value.get("ts")
        if not key.startswith(MARKERS) or not isinstance(ts, int | float):
            continue
        problem = value.get("p")
        if not isinstance(problem, str):
            if ts < now - max(keep, OLD_FORMAT_KEEP):
                out.append(key)
        elif ts < now - keep and problem not in live and owns(host_of(problem)):
            out.append(key)
    return out


def marker(d: Delivery, now: float, **fields: Any) -> dict[str, Any]:
    """A ledger marker of delivery ``d`` (a ``sent:``/``pending:`` value): ``fields``, its
    time and its problem key, by which :func:`expired` knows when it may go."""
    return {**fields, "ts": now, "p": problem_key(d.event)}


def keep_time(
    config: RoutingConfig, storm_window: float, policy: RetryPolicy, keep: float
) -> float:
    """Seconds a closed problem's markers are kept: ``keep`` (``[notifier] ledger_keep``)
    or :func:`min_keep` of the routing's group windows, whichever is longer."""
    windows = [storm_window, config.group_window or 0.0]
    windows += [r.group_window or 0.0 for r in config.routes]
    return max(keep, min_keep(windows, policy))


def sweep(
    ledger: Ledger,
    book: ProblemBook,
    waiting: set[str],
    keep: float,
    now: float,
    owns: Callable[[str], bool],
) -> list[str]:
    """The markers of ``ledger`` that may go at ``now`` (:func:`expired`): live are the
    problems open or holding a recovery in the ledger or in ``book``, and those with a
    message ``waiting`` to be sent."""
    live = {k.removeprefix("problem:") for k, _ in ledger.items("problem:")}
    live |= {v["occurrence"].rpartition("#")[0] for _, v in ledger.items("held:")}
    live |= {*book.problems, *(h.rpartition("#")[0] for h in book.held), *waiting}
    return expired(ledger.items("sent:") + ledger.items("pending:"), live, now, keep, owns)


def rebuild(
    book: ProblemBook,
    ledger: Ledger,
    owns: Callable[[str, int], bool],
    acks: Iterable[dict[str, Any]],
) -> None:
    """Fill ``book`` again from ``ledger`` with the open problems and held recoveries
    this notifier ``owns`` (host, partition), and apply ``acks`` (every ack seen) to them."""
    book.clear()
    for prefix in ("problem:", "held:"):
        for key, body in ledger.items(prefix):
            book.load(key, body)
    book.problems = {k: p for k, p in book.problems.items() if owns(p.event.host, p.partition)}
    book.held = {k: h for k, h in book.held.items() if owns(h.event.host, h.partition)}
    for ack in acks:
        book.acknowledge(ack)
