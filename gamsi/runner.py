"""Run one service until SIGTERM or SIGINT: the one signal loop every stage's CLI uses.

A stage's service loop is a coroutine ``run(settings, stop)`` that returns soon
after ``stop`` is set, having flushed and committed what it holds (see each
stage's ``service.py``). :func:`run_service` gives it that event, wired to
SIGTERM and SIGINT (systemd's stop and Ctrl-C), and — when the caller passes
``reload`` — to SIGHUP as well: the service is stopped, the configuration read
again and the service started with it, like ``systemctl reload`` for nginx. A
configuration that no longer validates is logged and the running one kept.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable, Callable

from gamsi.settings import ConfigError, Settings

log = logging.getLogger(__name__)

Service = Callable[[Settings, asyncio.Event], Awaitable[None]]


async def serve(
    service: Service,
    settings: Settings,
    reload: Callable[[], Settings] | None = None,
    kafka: bool = True,
) -> None:
    """Run ``service(settings, stop)`` until SIGTERM/SIGINT; SIGHUP reloads when ``reload``
    is given. Returns when the service has returned after a stop signal. With ``kafka``
    (a service that cannot work without the broker) it first waits until Kafka answers,
    quietly (:func:`gamsi.kafka_errors.wait_for_broker`: one line a minute), so services
    may start before the broker."""
    loop = asyncio.get_running_loop()
    terminate = asyncio.Event()
    reloading = asyncio.Event()
    stop = asyncio.Event()

    def on_term() -> None:
        terminate.set()
        stop.set()

    def on_hup() -> None:
        reloading.set()
        stop.set()

    handled = [signal.SIGTERM, signal.SIGINT] + ([signal.SIGHUP] if reload else [])
    for sig in handled:
        with contextlib.suppress(NotImplementedError):  # not on Windows' event loops
            loop.add_signal_handler(sig, on_hup if sig == signal.SIGHUP else on_term)
    try:
        if kafka:
            from gamsi.kafka_errors import wait_for_broker

            name = service.__module__.split(".")
            who = name[1] if len(name) > 1 and name[0] == "gamsi" else name[0]
            if not await wait_for_broker(settings, stop, who=who):
                return
        while True:
            await service(settings, stop)
            if terminate.is_set() or not reloading.is_set() or reload is None:
                return
            reloading.clear()
            stop.clear()
            try:
                settings = reload()
                log.info("configuration reloaded")
            except ConfigError as exc:
                log.error("reload failed, keeping the running configuration: %s", exc)
    finally:
        for sig in handled:
            with contextlib.suppress(NotImplementedError):
                loop.remove_signal_handler(sig)


def run_service(
    service: Service,
    settings: Settings,
    reload: Callable[[], Settings] | None = None,
    kafka: bool = True,
) -> int:
    """:func:`serve` in a new event loop; returns the exit code 0 (errors propagate)."""
    asyncio.run(serve(service, settings, reload, kafka))
    return 0


__all__ = ["Service", "run_service", "serve"]
