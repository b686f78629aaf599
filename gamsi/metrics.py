"""Gamsi watching itself: each service's ``/metrics`` in the Prometheus text format.

A service keeps plain numbers where it works (an ``int`` on an object, a
:class:`collections.Counter`), as it did before it had metrics: the hot path pays an
integer increment and never imports prometheus_client. :class:`Figures` reads those
numbers *at scrape time* through a prometheus_client custom collector (the pattern of
prometheus_client's "custom collectors", used by its own process collector), so one
registry per service holds every figure plus the process's own (CPU, memory, file
descriptors, GC). ``Figures.refresh`` hooks run before each scrape for figures that
must be asked for (consumer lag: the consumer's highwater minus its position).

Every figure is listed in docs/operations.md. Names follow Prometheus' conventions
(https://prometheus.io/docs/practices/naming/): ``gamsi_<service>_<what>_<unit>``,
counters end in ``_total`` (Prometheus computes rates: ``rate(..._total[1m])``).

The HTTP side is :func:`add_routes` (``GET /metrics`` behind the endpoint's token, and
``GET /health`` open, from :mod:`gamsi.health`) on an endpoint the service already
serves (history's query endpoint, the notifier's ack API, the status page), or
:func:`serve_report` for a service with none (the stream worker, the remediator).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    GCCollector,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    InfoMetricFamily,
    Metric,
)

from gamsi.health import Health, KafkaWatch, aiokafka_lag, joined
from gamsi.http_config import endpoint_token
from gamsi.http_conn import LimitedLog
from gamsi.http_guard import Guard, Served, guarded_app, json_response, public, serve

log = logging.getLogger(__name__)
LOOPBACK = "127.0.0.1"

Value = float | Mapping[tuple[str, ...], float]
"""What a figure's reader returns: one number, or a number per tuple of label values."""


@dataclass(frozen=True)
class _Figure:
    kind: str  # counter, gauge or info
    name: str
    help: str
    labels: tuple[str, ...]
    read: Callable[[], Any]


class Figures:
    """One service's figures: ``service`` names it (``streams``, ``notifier``...).

    Register figures with :meth:`counter`, :meth:`gauge` and :meth:`info`; each takes a
    ``read`` callable returning the current value (a number, or ``{label values: number}``
    when ``labels`` are given). A reader that raises is skipped for that scrape and
    logged once a minute; a scrape never fails because of one figure.
    """

    def __init__(self, service: str) -> None:
        self.service = service
        self.registry = CollectorRegistry()
        for collector in (ProcessCollector, PlatformCollector, GCCollector):
            collector(registry=self.registry)
        self.registry.register(self)  # type: ignore[arg-type]  # a custom collector
        self._figures: list[_Figure] = []
        self._refresh: list[Callable[[], Awaitable[None]]] = []
        self._log = LimitedLog(log)

    def counter(
        self, name: str, help: str, read: Callable[[], Value], labels: tuple[str, ...] = ()
    ) -> None:
        """A counter (only goes up); ``name`` ends in ``_total``."""
        if not name.endswith("_total"):
            raise ValueError(f"counter {name!r}: a counter's name ends in _total")
        self._figures.append(_Figure("counter", name, help, labels, read))

    def gauge(
        self, name: str, help: str, read: Callable[[], Value], labels: tuple[str, ...] = ()
    ) -> None:
        """A gauge (a value now: lag, bytes in a spool, a flag)."""
        self._figures.append(_Figure("gauge", name, help, labels, read))

    def info(self, name: str, help: str, read: Callable[[], Mapping[str, str]]) -> None:
        """An info figure: ``<name>_info{key="value",...} 1`` (e.g. the policy in force)."""
        self._figures.append(_Figure("info", name, help, (), read))

    def on_scrape(self, refresh: Callable[[], Awaitable[None]]) -> None:
        """Run ``refresh`` before each scrape (bounded to 2 s; a failure is logged)."""
        self._refresh.append(refresh)

    async def render(self) -> bytes:
        """The Prometheus text exposition of every figure, refreshed first."""
        for refresh in self._refresh:
            try:
                await asyncio.wait_for(refresh(), 2.0)
            except Exception as exc:  # a figure we cannot ask for now is left as it was
                self._log.log(logging.WARNING, "metrics refresh failed: %r", exc)
        return generate_latest(self.registry)

    def collect(self) -> Iterator[Metric]:
        """prometheus_client's collector protocol: one family per registered figure."""
        for f in self._figures:
            try:
                value = f.read()
            except Exception as exc:  # one broken reader must not fail the scrape
                self._log.log(logging.WARNING, "figure %s: %r", f.name, exc)
                continue
            if f.kind == "info":
                family: Metric = InfoMetricFamily(f.name, f.help, value=dict(value))
            else:
                make = CounterMetricFamily if f.kind == "counter" else GaugeMetricFamily
                family = make(f.name, f.help, labels=f.labels or None)
                if f.labels:
                    for labels, number in dict(value).items():
                        family.add_metric(list(labels), float(number))
                else:
                    family.add_metric([], float(value))
            yield family

    def describe(self) -> list[Metric]:
        """Nothing up front (the figures are read at scrape time)."""
        return []


LAG = "gamsi_consumer_lag"
LAG_HELP = "Records on the partition not yet read by this service (highwater - position)."
LAG_LABELS = ("group", "topic", "partition")


def watch_consumer(figures: Figures, health: Health, consumer: Any, group: str) -> None:
    """Lag per partition on /metrics and "consumer group joined" on /health for an aiokafka
    consumer in ``group``."""
    read, refresh = aiokafka_lag(consumer, group)
    figures.gauge(LAG, LAG_HELP, read, LAG_LABELS)
    figures.on_scrape(refresh)
    health.require(f"group {group}", lambda: None if joined(consumer) else "not joined yet")


def add_routes(app: web.Application, figures: Figures, health: Health | None = None) -> None:
    """``GET /metrics`` (a read route: the endpoint's token when one is set) and, when
    ``health`` is given, ``GET /health`` (open) on an app made by
    :func:`gamsi.http_guard.guarded_app`."""

    async def metrics(request: web.Request) -> web.Response:
        body = await figures.render()
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    app.router.add_get("/metrics", metrics)
    if health is not None:
        app.router.add_get("/health", health_handler(health))


def health_handler(health: Health) -> Callable[[web.Request], Awaitable[web.Response]]:
    """The open ``GET /health`` handler of ``health`` (200 or 503, JSON)."""

    @public
    async def handler(request: web.Request) -> web.Response:
        status, body = health.report()
        return json_response(body, status)

    return handler


async def serve_report(
    settings: Any, where: str, port: int, figures: Figures, health: Health
) -> Served | None:
    """Serve ``/metrics`` and ``/health`` on 127.0.0.1:``port`` for a service that has no
    HTTP endpoint of its own; None when ``port`` is 0. ``where`` names the port setting
    (``[streams] metrics_port``) for the error. The token is ``[http] metrics_token``.

    Raises OSError naming ``where`` when the port cannot be bound.
    """
    if not port:
        return None
    h = settings.http
    token = endpoint_token(h.metrics_token, h.metrics_token_file, "[http] metrics_token")
    guard = Guard(f"{figures.service} metrics", token, "[http] metrics_token", h)
    app = guarded_app(guard)
    add_routes(app, figures, health)
    try:
        served = await serve(app, guard, LOOPBACK, port)
    except OSError as exc:
        raise OSError(
            f"{where}: cannot listen on {LOOPBACK}:{port} ({exc.strerror}); "
            "choose another port (0 turns the endpoint off)"
        ) from None
    log.info("%s: /metrics and /health on http://%s:%d", figures.service, LOOPBACK, served.port)
    return served


class SelfReport:
    """One service's figures, health and Kafka watch, started and closed together.

    ``service`` names the service; the figures every service shares are registered here
    (Kafka answering, dead letters written by this process). ``group`` is the consumer
    group the service will consume in: /health says "not started yet" for it until
    :func:`watch_consumer` replaces that with the consumer's own check, so the service
    is not called ready while it is still loading its state. The service adds its own
    figures to ``figures`` and checks to ``health``, and either serves them on its own
    endpoint (:func:`add_routes`) or passes ``port`` to :meth:`start`.
    """

    def __init__(self, settings: Any, service: str, group: str = "") -> None:
        from gamsi.deadletter import COUNTS

        self.settings = settings
        self.kafka = KafkaWatch(settings)
        self.health = Health(service, self.kafka)
        self.figures = Figures(service)
        self.served: Served | None = None
        if group:
            self.health.require(f"group {group}", lambda: "not started yet")
        f = self.figures
        f.gauge("gamsi_kafka_up", "1 while Kafka answers this service, else 0.", self._kafka_up)
        f.gauge(
            "gamsi_kafka_unreachable_seconds",
            "Seconds Kafka has not answered this service (0 while it does).",
            self.kafka.away_for,
        )
        f.counter(
            "gamsi_dead_letters_total",
            "Records this process sent to the dead-letter topic (written) or could not (lost).",
            lambda: {(k,): v for k, v in COUNTS.items()},
            ("outcome",),
        )

    def _kafka_up(self) -> float:
        return 1.0 if self.kafka.answered else 0.0

    def add_routes(self, app: web.Application, health: bool = True) -> None:
        """/metrics (and /health unless ``health`` is False) on the service's own app."""
        add_routes(app, self.figures, self.health if health else None)

    async def start(self, where: str = "", port: int = 0) -> None:
        """Start watching Kafka and, with ``port``, serve /metrics and /health there
        (``where`` names the setting). A port that cannot be bound is logged and the
        service goes on without the endpoint: its work matters more."""
        await self.kafka.start()
        if port:
            try:
                self.served = await serve_report(
                    self.settings, where, port, self.figures, self.health
                )
            except OSError as exc:
                log.error("%s; running without /metrics and /health", exc)

    async def close(self) -> None:
        if self.served is not None:
            await self.served.cleanup()
            self.served = None
        await self.kafka.close()


__all__ = [
    "LAG",
    "LAG_HELP",
    "LAG_LABELS",
    "Figures",
    "SelfReport",
    "add_routes",
    "health_handler",
    "serve_report",
    "watch_consumer",
]
