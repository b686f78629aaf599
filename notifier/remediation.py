"""Recovery scripts in notifications: "recovered after restart-nginx: exit 0 in 2.1 s".

The notifier follows the remediator's results topic (every decision and result,
:mod:`gamsi.remediator.records`) and keeps, per problem, the last result of a script
that ran for it. Two things follow, and nothing else in the notifier changes:

* **Recovery notice names the script** — when the problem's recovery goes out, the
  message carries ``recovered after <script>: exit 0 in 2.1 s`` (every channel shows it:
  it is part of the headline). A result counts for a recovery when it belongs to the
  incident that recovers (ran after the problem began, at most ``MAX_AGE`` before).
* **A failed recovery escalates** — a row whose status escalates (failed, timed out,
  rejected by the agent, lost, not normal within ``recovery_wait`` after a run, stopped
  by the attempt cap or the loop guard) becomes an ``escalation`` message about the open
  problem, to the routes that match it now, in the problem's thread, with the result
  and the output's tail. Its delivery key carries the command and status, so a
  restarted notifier that reads the row again sends nothing twice (the ledger).

The service wires it: :func:`follow` reads the topic from ``MAX_AGE`` ago and then
follows it, calling :meth:`gamsi.notifier.pipeline.Pipeline.remediation` per row.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any

from aiokafka import AIOKafkaConsumer

from gamsi.kafka_auth import kafka_client_options
from gamsi.notifier.deliveries import Delivery, problem_key
from gamsi.notifier.lifecycle import ProblemBook
from gamsi.notifier.route import deliveries_for, matching_routes
from gamsi.notifier.routing import RoutingConfig
from gamsi.remediator import records as R
from gamsi.remediator.audit import read_rows
from gamsi.schemas.records import SeverityEvent
from gamsi.settings import Settings

log = logging.getLogger(__name__)
MAX_AGE = 86400.0
"""Seconds a script's result may precede the recovery it is named in."""
OUTPUT_SHOWN = 500
"""Characters of a script's output tail shown in an escalation."""


def _since(row: R.Remediation) -> float:
    """When the incident of ``row`` began (the last part of its incident id)."""
    with contextlib.suppress(ValueError):
        return float(row.incident.rsplit("|", 1)[-1])
    return 0.0


class RemediationNotes:
    """The last script result per problem key, and the escalations rows call for."""

    def __init__(self) -> None:
        self.results: dict[str, R.Remediation] = {}
        self.escalations: dict[str, R.Remediation] = {}  # by delivery step

    def apply(
        self, config: RoutingConfig, book: ProblemBook, row: R.Remediation, now: float
    ) -> list[Delivery]:
        """Note one row; the escalation deliveries it calls for (none for most rows)."""
        key = f"{row.host}|{row.watch}|{row.item}|{row.instance}"
        if row.status in R.RESULTS:  # kept until the key's next incident (see seen)
            self.results[key] = row
        if row.status not in R.ESCALATING or not row.incident:
            return []
        problem = book.problems.get(key)
        if problem is None or now - row.ts > MAX_AGE:
            return []
        step = f"remediation:{row.command_id or row.script}:{row.status}:{row.attempt}"
        self.escalations = {k: r for k, r in self.escalations.items() if now - r.ts < MAX_AGE}
        self.escalations[step] = row
        out: list[Delivery] = []
        for route in matching_routes(config, problem.event):
            out += deliveries_for(
                config, problem.event, route, route.recipients, now, "escalation", step
            )
        return out

    def seen(self, event: SeverityEvent) -> None:
        """A new problem forgets the results of the key's earlier incidents."""
        row = self.results.get(problem_key(event))
        if row is not None and event.transition == "raise" and _since(row) < event.since - 1:
            del self.results[problem_key(event)]

    def line(self, d: Delivery) -> str:
        """The remediation text for the message of delivery ``d`` ('' when none)."""
        if d.kind == "recover":
            row = self.results.get(problem_key(d.event))
            ts = d.event.ts
            if row is not None and _since(row) <= row.ts <= ts + 60 and ts - row.ts < MAX_AGE:
                return f"recovered after {row.summary()}"
            return ""
        row = self.escalations.get(d.step) if d.kind == "escalation" else None
        return f"recovery script {row.summary()}{_tail(row.output)}" if row else ""


def _tail(output: str) -> str:
    text = output.strip()
    if not text:
        return ""
    shown = text[-OUTPUT_SHOWN:]
    return f"; output: {'…' if len(text) > OUTPUT_SHOWN else ''}{shown}"


async def follow(settings: Settings, on_row: Callable[[R.Remediation, float], Any]) -> None:
    """Read the results topic from MAX_AGE ago, then follow it: ``on_row(row, now)`` per row.
    A row that does not decode is skipped; so is a failure of ``on_row`` (logged)."""

    def take(row: R.Remediation) -> None:
        try:
            on_row(row, time.time())
        except Exception:  # a row must never stop the notifier
            log.exception("remediation row %s not applied", row.command_id)

    consumer = AIOKafkaConsumer(**kafka_client_options(settings), group_id=None)
    await consumer.start()
    try:
        topic = settings.remediator.results_topic
        await read_rows(consumer, topic, time.time() - MAX_AGE, take, follow=True)
    finally:
        await consumer.stop()
