"""Silences on Kafka: add, expire, read and follow the silences topic.

The topic (``[notifier] silences_topic``, declared in :func:`gamsi.topics.topic_specs`)
is compacted and keyed by the silence id: :func:`add_silence` writes a new silence,
:func:`expire_silence` writes it again ending now, and every reader replays the topic
from its beginning (:func:`gamsi.topics.read_compacted`) into a
:class:`~gamsi.notifier.silences.SilenceBook`. The notifier and the remediator follow it
(:func:`follow_silences`) so a silence added while they run applies within a poll, and
the status page asks :func:`active_silences`.

Every function raises aiokafka's ``KafkaError`` (or ``OSError``) when the broker does
not answer; a record that is not a silence is skipped with a warning, never fatal.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord

from gamsi.kafka_auth import kafka_client_options, producer_options
from gamsi.notifier.silences import Silence, SilenceBook, expired
from gamsi.settings import Settings
from gamsi.topics import ensure_topics, read_compacted

log = logging.getLogger(__name__)


def _applier(
    book: SilenceBook, topic: str, announce: bool = False
) -> Callable[[ConsumerRecord[bytes, bytes]], None]:
    """The record handler that applies silences-topic records to ``book``."""

    def apply(record: ConsumerRecord[bytes, bytes]) -> None:
        key = record.key.decode("utf-8", "replace") if record.key else ""
        silence = book.apply(key, record.value)
        if record.value is not None and silence is None:
            log.warning("%s@%d: not a silence record, skipped", topic, record.offset)
        elif silence is not None and announce:
            state = "in force" if silence.active(time.time()) else "ended"
            log.info("%s (%s): %s", silence.describe(), silence.matchers_text(), state)

    return apply


async def read_silences(settings: Settings) -> SilenceBook:
    """Every silence on the topic now (active, future and ended ones). Creates the
    declared topics first, so a fresh installation reads an empty list."""
    await ensure_topics(settings)
    book = SilenceBook()
    topic = settings.notifier.silences_topic
    consumer = AIOKafkaConsumer(
        **kafka_client_options(settings), group_id=None, enable_auto_commit=False
    )
    try:
        await consumer.start()
        await read_compacted(consumer, topic, _applier(book, topic))
    finally:
        await consumer.stop()
    return book


async def follow_silences(
    settings: Settings, book: SilenceBook, caught_up: asyncio.Event | None = None
) -> None:
    """Replay the topic into ``book``, set ``caught_up``, then follow it until cancelled."""
    topic = settings.notifier.silences_topic
    consumer = AIOKafkaConsumer(
        **kafka_client_options(settings), group_id=None, enable_auto_commit=False
    )
    try:
        await consumer.start()
        await read_compacted(
            consumer, topic, _applier(book, topic, announce=True), follow=True, caught_up=caught_up
        )
    finally:
        await consumer.stop()


async def start_following(settings: Settings, book: SilenceBook) -> asyncio.Task[None]:
    """Start :func:`follow_silences` into ``book`` and return its task once the topic has
    been replayed (so what is in force at start applies from the first event); raises
    what the task died of if it ended before that (an unreachable broker)."""
    ready = asyncio.Event()
    task = asyncio.create_task(follow_silences(settings, book, ready))
    waiter = asyncio.create_task(ready.wait())
    await asyncio.wait([waiter, task], return_when=asyncio.FIRST_COMPLETED)
    waiter.cancel()
    if not ready.is_set():
        task.result()
    return task


async def active_silences(settings: Settings, now: float | None = None) -> list[Silence]:
    """The silences in force at ``now`` (default: the wall clock), ending soonest first.

    For `gamsi status` and the status page: each has ``id``, ``hosts``/``watches``/
    ``items``/``tags`` (globs), ``starts``/``ends`` (epoch seconds), ``by``, ``comment``
    and :meth:`~gamsi.notifier.silences.Silence.describe`.
    """
    book = await read_silences(settings)
    return book.active(time.time() if now is None else now)


async def publish_silence(
    settings: Settings, silence: Silence, book: SilenceBook | None = None
) -> None:
    """Write ``silence`` (acks=all) under its id, and a tombstone for every silence of
    ``book`` (read here when not given) that ended more than RETENTION ago."""
    book = book if book is not None else await read_silences(settings)
    topic = settings.notifier.silences_topic
    producer = AIOKafkaProducer(**producer_options(settings))
    try:
        await producer.start()
        for old in book.stale(time.time()):
            await producer.send(topic, None, key=old.encode())
        await producer.send_and_wait(
            topic, orjson.dumps(silence.to_record()), key=silence.id.encode()
        )
    finally:
        await producer.stop()


async def expire_silence(
    settings: Settings, prefix: str, by: str, now: float | None = None
) -> Silence:
    """End the silence whose id is or starts with ``prefix`` now; returns the ended form.

    Raises :class:`~gamsi.notifier.silences.SilenceError` when no silence (or several)
    has that id, or it has ended already.
    """
    from gamsi.notifier.silences import SilenceError

    now = time.time() if now is None else now
    book = await read_silences(settings)
    silence = book.find(prefix)
    if silence.ends <= now:
        raise SilenceError(f"silence {silence.id[:8]} has ended already")
    ended = expired(silence, now, by)
    await publish_silence(settings, ended, book)
    return ended
