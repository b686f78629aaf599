"""The collector agent's service loop: ``gamsi collector run`` runs :func:`run_agent`.

One :class:`~gamsi.collector.agent.Agent` per configuration: a SIGHUP reload
(gamsi.runner) stops it and starts a new one with the re-read settings, and its
``seq`` continues where the last one stopped, so (run, seq) never repeats within a
process.
"""

from __future__ import annotations

import asyncio
import logging

from gamsi.collector.agent import Agent
from gamsi.settings import Settings

log = logging.getLogger("gamsi.collector.agent")


class _Process:
    """What outlives one Agent in this process: a SIGHUP reload builds a new Agent, and
    its seq continues where the last one stopped, so a seq never repeats in a process."""

    next_seq = 0


async def run_agent(settings: Settings, stop: asyncio.Event | None = None) -> None:
    """Run the collector until ``stop`` is set (forever if None); seq continues across calls."""
    c = settings.collector
    log.info(
        "collector %s: every %.3g s to %s (%s)",
        *(c.host, c.interval, settings.kafka.bootstrap, settings.kafka.metrics_topic),
    )
    agent = Agent(settings)
    agent.seq = _Process.next_seq
    try:
        await agent.run(stop or asyncio.Event())
    finally:
        _Process.next_seq = agent.seq
