"""Acknowledgement: `gamsi ack EVENT`, `gamsi ack --list`, `gamsi ack --undo EVENT`.

An acknowledgement belongs to one *occurrence* of a problem (one raise … recover):
the record names the problem and the event that opened it, so it never carries
over to the next time the same watch raises on the same item. It is accepted only
for an event of a problem that is open now — the notifier's ledger (a compacted
topic any process can read) says which are — and refused with an
:class:`AckError` otherwise.

The record goes to the acks topic (compacted, keyed by the occurrence, so an undo
replaces the ack); the notifier reads the topic from the start at boot and then
follows it. An acknowledged problem gets no more re-notifications or escalation
steps, and later messages about it (its recovery) say who acknowledged it.
"""

from __future__ import annotations

import getpass
import time
from typing import Any

import orjson
from aiokafka import AIOKafkaProducer

from gamsi.kafka_auth import producer_options
from gamsi.notifier.ledger import read_map
from gamsi.notifier.lifecycle import Problem
from gamsi.schemas.records import SCHEMA_VERSION
from gamsi.settings import Settings
from gamsi.topics import ensure_topics


class AckError(ValueError):
    """An acknowledgement that cannot be made; the message is one line for the user."""


def ack_record(
    event_id: str,
    by: str,
    at: float,
    comment: str = "",
    *,
    problem: str = "",
    opened: str = "",
    undo: bool = False,
) -> dict[str, Any]:
    """The acks-topic record: ``problem`` and ``opened`` name the occurrence (a problem key
    and the id of the event that opened it); ``undo`` withdraws an earlier ack of it."""
    return {
        "v": SCHEMA_VERSION,
        "kind": "ack",
        "event_id": event_id,
        "by": by,
        "at": at,
        "comment": comment,
        "problem": problem,
        "opened": opened,
        "undo": undo,
    }


def ack_key(record: dict[str, Any]) -> str:
    """The topic key: the occurrence (so compaction keeps its latest ack or undo)."""
    if record.get("problem"):
        return f"{record['problem']}#{record['opened']}"
    return str(record["event_id"])


def parse_ack(data: bytes) -> dict[str, Any] | None:
    """A valid ack record, or None (a malformed ack is ignored, never fatal)."""
    try:
        body = orjson.loads(data)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(body, dict) or body.get("kind") != "ack":
        return None
    if not isinstance(body.get("event_id"), str) or not isinstance(body.get("by"), str):
        return None
    if isinstance(body.get("at"), bool) or not isinstance(body.get("at"), int | float):
        return None
    if not all(isinstance(body.get(k, ""), str) for k in ("problem", "opened", "comment")):
        return None
    if not isinstance(body.get("undo", False), bool):
        return None
    return body


async def open_problems(settings: Settings) -> list[Problem]:
    """The problems open now, as the notifier's ledger has them."""
    data: dict[str, dict[str, Any]] = {}
    await read_map(settings, settings.notifier.ledger_topic, data)
    out = []
    for key, body in data.items():
        if key.startswith("problem:"):
            try:
                out.append(Problem.from_json(body))
            except (TypeError, KeyError, ValueError):
                continue
    return out


async def current_acks(settings: Settings, problems: list[Problem]) -> dict[str, dict[str, Any]]:
    """The latest ack record of each open occurrence that has one (undone ones left out)."""
    data: dict[str, dict[str, Any]] = {}
    await read_map(settings, settings.notifier.acks_topic, data)
    out = {}
    for p in problems:
        record = data.get(p.occurrence)
        if record is not None and parse_ack(orjson.dumps(record)) and not record.get("undo"):
            out[p.occurrence] = record
    return out


def _problem_of(problems: list[Problem], event_id: str) -> Problem:
    for p in problems:
        if event_id in p.event_ids:
            return p
    raise AckError(
        f"event {event_id!r} belongs to no open problem (closed, or not an event id); "
        "the id is the one shown in the notification"
    )


async def _publish(settings: Settings, record: dict[str, Any]) -> None:
    await ensure_topics(settings)
    producer = AIOKafkaProducer(**producer_options(settings))
    try:
        await producer.start()
        await producer.send_and_wait(
            settings.notifier.acks_topic, orjson.dumps(record), key=ack_key(record).encode()
        )
    finally:
        await producer.stop()


async def acknowledge(
    settings: Settings, event_id: str, by: str = "", comment: str = "", at: float | None = None
) -> dict[str, Any]:
    """Acknowledge the open problem ``event_id`` belongs to; returns the record written.

    Raises :class:`AckError` when no open problem has that event, and KafkaError when
    the broker does not answer.
    """
    if not event_id:
        raise AckError("event id must not be empty")
    problem = _problem_of(await open_problems(settings), event_id)
    record = ack_record(
        event_id,
        by or getpass.getuser(),
        time.time() if at is None else at,
        comment,
        problem=problem.key,
        opened=problem.opened_by,
    )
    await _publish(settings, record)
    return record


async def withdraw(settings: Settings, event_id: str, by: str = "") -> dict[str, Any]:
    """Withdraw the acknowledgement of the open problem ``event_id`` belongs to.

    Raises :class:`AckError` when no open problem has that event or it is not
    acknowledged; re-notification and escalation resume from where they are due.
    """
    problems = await open_problems(settings)
    problem = _problem_of(problems, event_id)
    if problem.occurrence not in await current_acks(settings, problems):
        raise AckError(f"event {event_id!r}: its problem is not acknowledged")
    record = ack_record(
        event_id,
        by or getpass.getuser(),
        time.time(),
        problem=problem.key,
        opened=problem.opened_by,
        undo=True,
    )
    await _publish(settings, record)
    return record


async def list_acks(settings: Settings) -> list[tuple[Problem, dict[str, Any]]]:
    """Open problems that are acknowledged, with their ack records, oldest first."""
    problems = await open_problems(settings)
    acks = await current_acks(settings, problems)
    found = [(p, acks[p.occurrence]) for p in problems if p.occurrence in acks]
    return sorted(found, key=lambda pa: float(pa[1]["at"]))
