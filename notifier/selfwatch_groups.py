"""The notifier's look at the other services' consumer groups (:mod:`.selfwatch`).

A group that committed offsets (its service ran against this Kafka) but has no member
is a service down; one whose committed offsets are more than ``[notifier]
selfwatch_lag`` records behind its topics' ends lags. Both come from the broker
(DescribeGroups, OffsetFetch, ListOffsets: what ``kafka-consumer-groups --describe``
shows), so they need nothing from the watched service and work across hosts.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass
from typing import Any

from gamsi.schemas.records import Severity

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Finding:
    """One condition seen bad now: ``key`` identifies it across checks."""

    key: str
    item: str
    instance: str
    value: float
    threshold: float
    severity: Severity
    text: str
    after: float
    """Seconds it must stay bad before it is told."""


class GroupCheck:
    """Members and lag of the consumer groups of the other services, from the broker."""

    RETRY_AFTER = 30.0
    """Seconds before asking again after a failed check (a broker going away, or ACLs that
    do not let the notifier describe the other groups: docs/operations.md)."""

    def __init__(self, settings: Any) -> None:
        self.settings = settings
        self._retry_at = 0.0
        s = settings
        self.groups = {
            s.streams.app_id: "stream workers",
            s.history.group_id: "history writer",
            s.remediator.group_id: "remediator",
        }
        self._admin: Any = None
        self._consumer: Any = None

    async def findings(self) -> list[Finding] | None:
        """Down and lagging groups now; None when they could not be asked (the broker did
        not answer in time or refused), and for :data:`RETRY_AFTER` seconds after that."""
        if time.monotonic() < self._retry_at:
            return None
        try:
            async with asyncio.timeout(10):
                return await self._ask()
        except Exception as exc:  # broker going away mid-check, or not allowed to ask
            log.info("consumer groups not checked (again in %.0f s): %r", self.RETRY_AFTER, exc)
            self._retry_at = time.monotonic() + self.RETRY_AFTER
            await self.close()
            return None

    async def _ask(self) -> list[Finding]:
        from aiokafka import AIOKafkaConsumer
        from aiokafka.admin import AIOKafkaAdminClient

        from gamsi.kafka_auth import kafka_client_options

        if self._admin is None:
            options = kafka_client_options(self.settings)
            self._admin = AIOKafkaAdminClient(**options, request_timeout_ms=5000)
            await self._admin.start()
            self._consumer = AIOKafkaConsumer(**options, group_id=None)
            await self._consumer.start()
        n = self.settings.notifier
        out = []
        for group, what in self.groups.items():
            offsets = await self._admin.list_consumer_group_offsets(group)
            if not offsets:
                continue  # never ran here: not deployed, nothing to miss
            if await self._members(group) == 0:
                text = f"the {what} ({group}) are down: no member in the consumer group"
                out.append(
                    Finding(f"down:{group}", "service.members", group, 0, 1,
                            Severity.URGENT, text, n.selfwatch_after)
                )  # fmt: skip
                continue
            ends = await self._consumer.end_offsets(list(offsets))
            lag = sum(max(0, ends[tp] - m.offset) for tp, m in offsets.items() if m.offset >= 0)
            if lag > n.selfwatch_lag:
                text = f"the {what} ({group}) lag {lag:,} records behind"
                out.append(
                    Finding(f"lag:{group}", "consumer.lag", group, lag, n.selfwatch_lag,
                            Severity.DANGER, text, n.selfwatch_after)
                )  # fmt: skip
        return out

    async def _members(self, group: str) -> int | None:
        """Members of ``group`` now (None: the broker did not say). One group per request:
        aiokafka 0.14 decodes a DescribeGroups v3 answer with the v2 schema, which only
        holds for a single group (the 4 bytes v3 adds per group are left over)."""
        (response,) = await self._admin.describe_consumer_groups([group])
        error, _, _, _, _, members = response.groups[0][:6]
        return None if error else len(members)

    async def close(self) -> None:
        """Close both clients, each within 5 s (a consumer's stop can wait on a fetch
        retrying against a broker that went away)."""
        for client in (self._consumer, self._admin):
            if client is not None:
                with contextlib.suppress(Exception):
                    closing = client.stop() if client is self._consumer else client.close()
                    await asyncio.wait_for(closing, 5.0)
        self._admin = self._consumer = None


__all__ = ["Finding", "GroupCheck"]
