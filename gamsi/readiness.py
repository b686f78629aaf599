"""When is a Gamsi service ready? The readiness contract `gamsi up` checks.

A service is *ready* when every probe declared for it passes:

* **consumer group joined** — a service that consumes with a group (streams,
  notifier, history, remediator) is ready to process only once its group is
  ``Stable`` with at least one member; the broker says so (``DescribeGroups``),
  so the service needs no code of its own for it;
* **/health answers** — a service that serves HTTP declares a health URL; it is
  ready when ``GET /health`` answers 200 with JSON ``{"status": "ok"}`` and no
  ``"ready": false`` (the status page says ``ready: false`` while it rebuilds its
  picture; a service of :mod:`gamsi.health` answers 503 until it works). The
  endpoint's bearer token is sent when one is configured. A service serving
  ``/health`` on its ``[section] metrics_port`` is probed there (:func:`own_health`);
* a service with no probe (the collector, which spools when Kafka is away) is
  ready when it is running.

A new service joins the contract with one :class:`Probe` in
:data:`gamsi.supervisor.SERVICES`: its group, its health URL, or both. Kubernetes'
readiness probes and systemd's ``Type=notify`` are the same idea from outside and
from inside; this is the outside one, so it also works for a service that a
third-party package adds.
"""

from __future__ import annotations

import asyncio
import contextlib
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass

import orjson

from gamsi.settings import Settings

HTTP_TIMEOUT = 1.0
"""Seconds one health request may take."""


@dataclass(frozen=True)
class Probe:
    """What makes one service ready: ``group(settings)`` is its consumer group (or
    None), ``health(settings)`` is (URL, bearer token) of its /health (or None)."""

    group: Callable[[Settings], str | None] = lambda s: None
    health: Callable[[Settings], tuple[str, str] | None] = lambda s: None


def own_health(section: str) -> Callable[[Settings], tuple[str, str] | None]:
    """The health probe of a service that serves ``/health`` on its ``[section]
    metrics_port`` (127.0.0.1; no token): None while that port is 0 or undeclared."""

    def url(settings: Settings) -> tuple[str, str] | None:
        port = getattr(getattr(settings, section), "metrics_port", 0)
        return (f"http://127.0.0.1:{port}/health", "") if port else None

    return url


async def groups_stable(settings: Settings, groups: list[str]) -> dict[str, bool]:
    """For each consumer group: is it ``Stable`` with at least one member? One
    ``DescribeGroups`` request; a broker that does not answer makes every one False."""
    from aiokafka.admin import AIOKafkaAdminClient

    from gamsi.kafka_auth import kafka_client_options

    out = dict.fromkeys(groups, False)
    if not groups:
        return out
    admin = AIOKafkaAdminClient(**kafka_client_options(settings), request_timeout_ms=5000)
    try:
        async with asyncio.timeout(8):
            await admin.start()
            for response in await admin.describe_consumer_groups(groups):
                for g in response.groups:
                    error, group, state, members = g[0], g[1], g[2], g[5]
                    if not error and group in out:
                        out[group] = state == "Stable" and len(members) > 0
    except Exception:  # not answering now is "not ready yet"
        pass
    finally:
        with contextlib.suppress(Exception):
            await admin.close()
    return out


def health_ok(url: str, token: str = "") -> bool:
    """``GET url`` answered 200 with ``{"status": "ok"}`` and not ``"ready": false``."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        request = urllib.request.Request(url, headers=headers)
        with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT) as resp:
            body = orjson.loads(resp.read())
    except (OSError, ValueError, urllib.error.URLError):
        return False
    return isinstance(body, dict) and body.get("status") == "ok" and body.get("ready") is not False


async def pending(settings: Settings, probe: Probe) -> list[str]:
    """What ``probe`` still waits for, in words (empty: ready)."""
    waiting = []
    try:
        group, health = probe.group(settings), probe.health(settings)
    except Exception as exc:  # e.g. an unreadable token file: say so, keep probing
        return [f"probe failed: {exc}"]
    if group and not (await groups_stable(settings, [group]))[group]:
        waiting.append(f"consumer group {group} not joined")
    if health and not await asyncio.to_thread(health_ok, *health):
        waiting.append(f"{health[0]} not answering")
    return waiting


__all__ = ["Probe", "groups_stable", "health_ok", "own_health", "pending"]
