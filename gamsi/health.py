"""Gamsi watching itself: what a service's ``/health`` says, and whether Kafka answers it.

The contract (docs/operations.md, "Health"), which `gamsi up` waits on
(:mod:`gamsi.readiness`) and a load balancer or Kubernetes readiness probe can use:

* ``200 {"status": "ok", "ready": true, "service": ..., "checks": {...}}`` when the
  service is doing its work: Kafka answered it within :data:`AWAY_AFTER` seconds and
  every readiness check of the service holds (its consumer group joined, its store open);
* ``503 {"status": "unavailable", "ready": false, "reason": "...", "checks": {...}}``
  otherwise, ``reason`` naming the first check that fails ("Kafka at 127.0.0.1:9092 not
  answering for 41 s", "group gamsi-history: not joined yet").

``checks`` maps each check's name to ``"ok"`` or its reason. The endpoint is open (no
token): it reveals no data, only whether the service works.

:class:`KafkaWatch` is how a service knows Kafka answers: a metadata request every few
seconds on a small client of its own, bounded by a timeout. A consumer's ``getmany``
returning nothing looks the same whether the topic is quiet or the broker is gone;
a metadata request does not. :func:`joined` and :func:`aiokafka_lag` read what an
aiokafka consumer knows of itself: its group joined, its lag per partition.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

AWAY_AFTER = 30.0
"""Seconds without an answer from Kafka after which /health says 503 (a broker restart or
a leader election takes a few seconds and is not a failure of the service)."""

Check = Callable[[], str | None]
"""A readiness check: None when it holds, else the reason (one short line)."""


class KafkaWatch:
    """Whether Kafka answers this process: a metadata request every ``every`` seconds.

    ``settings`` are Gamsi's settings (the client's TLS and SASL options come from
    them). :meth:`away_for` is 0 while the last request was answered, else the seconds
    since the first unanswered one (or since :meth:`start`, if none was ever answered).
    A change is logged once (unreachable, answering again), never per request.
    """

    def __init__(
        self,
        settings: Any,
        every: float = 2.0,
        timeout: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.every = every
        self.timeout = timeout
        self.clock = clock
        self.answered = False
        self.ever_answered = False
        self.last_error = ""
        self._since = clock()
        self._task: asyncio.Task[None] | None = None

    @property
    def bootstrap(self) -> str:
        return str(self.settings.kafka.bootstrap)

    def away_for(self, now: float | None = None) -> float:
        """Seconds Kafka has not answered (0.0 while it does)."""
        if self.answered:
            return 0.0
        return max(0.0, (self.clock() if now is None else now) - self._since)

    def note(self, answered: bool, error: str = "") -> None:
        """Record one request's outcome (the loop calls it; tests may too)."""
        if answered and not self.answered:
            if self.ever_answered:
                log.info("Kafka at %s answers again after %.0f s", self.bootstrap, self.away_for())
            self.ever_answered = True
        elif not answered and self.answered:
            self._since = self.clock()
            log.warning("Kafka at %s is not answering: %s", self.bootstrap, error)
        self.answered = answered
        if error:
            self.last_error = error

    async def start(self) -> None:
        """Start asking (in a task of its own); the first answer comes within ``timeout``."""
        if self._task is None:
            self._task = asyncio.create_task(self._loop(), name="gamsi-kafka-watch")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _loop(self) -> None:
        from aiokafka.client import AIOKafkaClient

        from gamsi.kafka_auth import kafka_client_options
        from gamsi.logs import rate_limit

        rate_limit("aiokafka", 60.0, per_kind=False)  # the client's retry lines: one a minute
        options = kafka_client_options(self.settings)
        client = AIOKafkaClient(
            **options, request_timeout_ms=int(self.timeout * 1000), client_id="gamsi-health"
        )
        booted = False
        try:
            while True:
                try:
                    async with asyncio.timeout(self.timeout):
                        if not booted:
                            await client.bootstrap()
                            booted = True
                        else:
                            await client.fetch_all_metadata()
                    self.note(True)
                except Exception as exc:  # any failure to answer is "not answering"
                    self.note(False, f"{type(exc).__name__}: {exc}"[:300])
                await asyncio.sleep(self.every)
        finally:
            with contextlib.suppress(Exception):
                await client.close()


class Health:
    """What ``/health`` answers for one service (see the module's contract).

    ``service`` names it; ``kafka`` (optional) is its :class:`KafkaWatch`, failing the
    health after ``away_after`` seconds without an answer and before the first one.
    Add the service's own readiness checks with :meth:`require`.
    """

    def __init__(
        self, service: str, kafka: KafkaWatch | None = None, away_after: float = AWAY_AFTER
    ) -> None:
        self.service = service
        self.kafka = kafka
        self.away_after = away_after
        self._checks: dict[str, Check] = {}

    def require(self, name: str, check: Check) -> None:
        """Add a readiness check: ``check()`` is None when it holds, else the reason."""
        self._checks[name] = check

    def checks(self) -> dict[str, str]:
        """Each check's name → ``"ok"`` or its reason (a check that raises fails)."""
        out: dict[str, str] = {}
        k = self.kafka
        if k is not None:
            away = k.away_for()
            if not k.ever_answered:
                out["kafka"] = f"Kafka at {k.bootstrap} has not answered yet"
            elif away > self.away_after:
                out["kafka"] = f"Kafka at {k.bootstrap} not answering for {away:.0f} s"
            else:
                out["kafka"] = "ok"
        for name, check in self._checks.items():
            try:
                reason = check()
            except Exception as exc:  # a broken check fails, it does not break /health
                reason = f"check failed: {type(exc).__name__}"
            out[name] = reason or "ok"
        return out

    def report(self) -> tuple[int, dict[str, Any]]:
        """(HTTP status, JSON body) of ``/health`` now: 200 when every check holds, else 503."""
        checks = self.checks()
        failing = [f"{name}: {reason}" for name, reason in checks.items() if reason != "ok"]
        body: dict[str, Any] = {
            "status": "unavailable" if failing else "ok",
            "ready": not failing,
            "service": self.service,
            "checks": checks,
        }
        if failing:
            body["reason"] = failing[0]
        return (503 if failing else 200), body


def joined(consumer: Any) -> bool:
    """Has this aiokafka group consumer joined its group (a generation assigned)? Reads the
    coordinator's generation (aiokafka 0.14, pinned below 0.15 in pyproject)."""
    coordinator = getattr(consumer, "_coordinator", None)
    return int(getattr(coordinator, "generation", -1) or -1) > 0


Lag = dict[tuple[str, ...], float]
"""Records not yet read, by (group, topic, partition)."""


FETCH_CURRENT = 5.0
"""Seconds after which the end offset a consumer's last fetch saw is asked of the broker."""


def aiokafka_lag(consumer: Any, group: str) -> tuple[Callable[[], Lag], Callable[[], Any]]:
    """(reader, refresh) of the lag of an aiokafka ``consumer`` in ``group``: per assigned
    partition, its end offset minus its position (records not yet read).
    :func:`gamsi.metrics.watch_consumer` registers both.

    The end offset is the one the consumer's last fetch saw, unless that fetch is more
    than :data:`FETCH_CURRENT` seconds old: a partition the consumer stopped fetching
    (paused, a stalled fetcher) keeps the end of its last fetch and would show no lag
    while records pile up, so its end is asked of the broker (ListOffsets)."""
    lag: Lag = {}

    async def refresh() -> None:
        lag.clear()
        assigned = list(consumer.assignment())
        ends = {tp: consumer.highwater(tp) for tp in assigned}
        old = (time.time() - FETCH_CURRENT) * 1000.0
        stale = [tp for tp in assigned if (consumer.last_poll_timestamp(tp) or 0) < old]
        if stale:
            with contextlib.suppress(Exception):  # the broker away: what the fetch saw
                ends.update(await asyncio.wait_for(consumer.end_offsets(stale), 2.0))
        for tp in assigned:
            high = ends[tp]
            if high is None:
                continue
            try:
                position = await asyncio.wait_for(consumer.position(tp), 0.5)
            except Exception:  # moved away or not positioned yet: unknown, not zero
                continue
            lag[(group, tp.topic, str(tp.partition))] = max(0, high - position)

    return (lambda: lag), refresh


__all__ = ["AWAY_AFTER", "FETCH_CURRENT", "Check", "Health", "KafkaWatch", "aiokafka_lag", "joined"]
