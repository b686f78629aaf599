"""The delivery log: one record per delivery outcome, for ClickHouse's ``deliveries`` table.

Keys are exactly the table's columns plus ``v`` and ``kind``; the history writer
stores them as they are. Results: ``sent``, ``failed``, ``suppressed`` (a
maintenance window) and ``deduplicated`` (the ledger says it already went out).
"""

from __future__ import annotations

from typing import Any, Protocol

import orjson

from gamsi.notifier.targets import Target
from gamsi.schemas.records import SCHEMA_VERSION

RESULTS = ("sent", "failed", "suppressed", "deduplicated")


class DeliverySink(Protocol):
    async def publish(self, records: list[dict[str, Any]]) -> None: ...


def delivery_record(
    target: Target, result: str, attempts: int, error: str, ts: float
) -> dict[str, Any]:
    if result not in RESULTS:
        raise ValueError(f"unknown delivery result {result!r}")
    e = target.event
    recipient = target.recipient + (f" <{target.contact.to}>" if target.contact.to else "")
    return {
        "v": SCHEMA_VERSION,
        "kind": "delivery",
        "ts": ts,
        "event_id": e.event_id,
        "route": target.route.name,
        "channel": target.contact.channel,
        "recipient": recipient,
        "host": e.host,
        "item": e.item,
        "instance": e.instance,
        "severity": int(e.severity),
        "transition": target.step.split(":")[0] if target.step else e.transition,
        "result": result,
        "attempts": attempts,
        "error": error,
    }


def encode_delivery(record: dict[str, Any]) -> bytes:
    return orjson.dumps(record)


class MemorySink:
    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []

    async def publish(self, records: list[dict[str, Any]]) -> None:
        self.records.extend(records)
