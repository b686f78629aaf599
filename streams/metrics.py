"""The stream worker's /metrics and /health (docs/operations.md), as a Faust task.

:func:`install` adds one task to the Faust app: it serves the worker's figures and
health on ``[streams] metrics_port`` for as long as the worker runs. The figures are
read at scrape time from what the agents already keep: the worker's
:data:`~gamsi.streams.worker.COUNTERS`, the next offset to judge per partition, the
policy feed's :class:`~gamsi.streams.policy.feed.FeedStats`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from faust.types import TP

from gamsi.metrics import LAG, LAG_HELP, LAG_LABELS, SelfReport
from gamsi.settings import Settings
from gamsi.streams.worker import COUNTERS


def install(
    app: Any,
    settings: Settings,
    judged_up_to: Mapping[int, int],
    ends: Mapping[int, int] | None = None,
) -> None:
    """Serve the worker's /metrics and /health while ``app`` runs (``[streams]
    metrics_port``, 0: not at all). ``judged_up_to`` maps a metrics partition to the next
    offset this worker judges there, ``ends`` to its end offset as last asked of the
    broker (the partition watch's, every second)."""
    port = settings.streams.metrics_port
    if not port:
        return

    @app.task
    async def serve_metrics() -> None:
        report = SelfReport(settings, "streams")
        register(report, app, settings, judged_up_to, ends or {})
        await report.start("[streams] metrics_port", port)
        try:
            await asyncio.Event().wait()  # until Faust stops the worker (cancels its tasks)
        finally:
            await report.close()


def register(
    report: SelfReport,
    app: Any,
    settings: Settings,
    judged_up_to: Mapping[int, int],
    ends: Mapping[int, int],
) -> None:
    """The stream worker's figures and readiness on ``report``. The lag of a partition
    counts from the later of the consumer's last fetch and the broker's answer in
    ``ends``: a partition the consumer stopped fetching keeps the end of its last fetch,
    and would show no lag while records pile up."""
    f = report.figures
    topic, group = settings.kafka.metrics_topic, settings.streams.app_id
    for key, what in (
        ("batches", "Metric batches judged."),
        ("transitions", "Severity events (transitions) sent to the events topic."),
        ("batches_refused", "Metric batches refused (bounds, order) and dead-lettered."),
        ("host_resets", "Host states reset after a failure inside the engine."),
        ("transitions_resent", "Transitions a restored host record still owed, sent again."),
    ):
        f.counter(f"gamsi_streams_{key}_total", what, lambda key=key: COUNTERS[key])

    def lag() -> dict[tuple[str, ...], float]:
        out: dict[tuple[str, ...], float] = {}
        for tp in app.consumer.assignment():
            if tp.topic != topic or tp.partition not in judged_up_to:
                continue
            seen = [app.consumer.highwater(TP(topic, tp.partition)), ends.get(tp.partition)]
            known = [end for end in seen if end is not None]
            if known:
                lag = max(known) - judged_up_to[tp.partition]
                out[(group, topic, str(tp.partition))] = max(0, lag)
        return out

    f.gauge(LAG, LAG_HELP, lag, LAG_LABELS)

    def policy() -> dict[str, str]:
        feed = getattr(app, "gamsi_policy_feed", None)
        if feed is None or feed.offset < 0:
            return {"source": settings.streams.policy_path or "shipped defaults", "offset": ""}
        return {"source": feed.source, "offset": str(feed.offset)}

    f.info("gamsi_streams_policy", "The watch policy in force: source and topic offset.", policy)
    f.counter(
        "gamsi_streams_policy_bad_records_total",
        "Records on the policy topic that were not a valid policy (the previous one stayed).",
        lambda: getattr(getattr(app, "gamsi_policy_feed", None), "bad_records", 0),
    )

    def assigned() -> str | None:
        if not any(tp.topic == topic for tp in app.consumer.assignment()):
            return f"no partition of {topic} assigned yet"
        return None

    report.health.require(f"group {group}", assigned)


__all__ = ["install", "register"]
