"""The one decode-and-dead-letter path of every consumer: total, bounded, written once.

Each consumer (stream worker, notifier, history writer) hands every consumed message to
:func:`screen` with its own handler (decode with :mod:`gamsi.schemas.codec`, which
validates types and ranges, then whatever the consumer does with the record). Any
exception the handler raises for that record (a DecodeError, or a bug the record
triggers: RecursionError, ValueError, IndexError...) becomes a bounded
:class:`~gamsi.schemas.records.DeadLetter` instead of stopping the consumer; the caller
then publishes it with :func:`deliver` and moves its offset on.

:func:`deliver` never raises either: a dead letter the broker refuses for its size or
content is sent again as a reference (topic, partition, offset, reason) without the
payload; a retriable error (broker away) is retried with backoff a bounded number of
times; after that the record's coordinates and reason go to the log and the consumer
goes on. A consumer that moves its offset past the record once writes its dead letter
once.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any, TypeVar

from gamsi.schemas.codec import DecodeError
from gamsi.schemas.records import MAX_KEY_BYTES, MAX_REASON_CHARS, DeadLetter, clip_text

log = logging.getLogger(__name__)

T = TypeVar("T")
TRIES = 5
FIRST_DELAY = 0.5
MAX_DELAY = 8.0
COUNTS: Counter[str] = Counter()
"""Dead letters of this process by outcome, ``written`` or ``lost`` (its /metrics)."""


def reason_of(exc: BaseException) -> str:
    """One bounded line for a record's failure; never raises (a hostile ``__str__`` too).

    A :class:`DecodeError` is its own message; anything else is prefixed with its type,
    because it is a bug the record revealed rather than a rule the record broke."""
    try:
        text = str(exc)
    except Exception:  # an exception whose message cannot be formatted
        text = "(message could not be formatted)"
    text = " ".join(text.split()) or "(no message)"
    if not isinstance(exc, DecodeError):
        text = f"{type(exc).__name__} while handling the record: {text}"
    return clip_text(text, MAX_REASON_CHARS)


def screen(
    message: Any, handle: Callable[[bytes], T], worker: str
) -> tuple[T | None, DeadLetter | None]:
    """Run ``handle(message.value)``: ``(result, None)``, or ``(None, dead letter)`` when it
    raised any Exception (an empty value is refused before ``handle`` runs).

    ``message`` is a consumed Kafka message (aiokafka's ConsumerRecord or Faust's
    Message: topic, partition, offset, key, value). Never raises an Exception."""
    try:
        if not message.value:
            raise DecodeError("empty message (no value)")
        return handle(message.value), None
    except Exception as exc:  # total by design: a record never stops a consumer
        return None, DeadLetter.of(reason_of(exc), message, worker)


def letter_key(letter: DeadLetter) -> bytes | None:
    """The Kafka key for a dead letter: the original key, cut to 256 bytes, or none."""
    return letter.key.encode("utf-8")[:MAX_KEY_BYTES] or None


async def deliver(
    send: Callable[[DeadLetter], Awaitable[Any]],
    letter: DeadLetter,
    *,
    tries: int = TRIES,
    first_delay: float = FIRST_DELAY,
) -> bool:
    """Publish ``letter`` with ``send`` (which raises on failure); True once it is written.

    A non-retriable failure (the broker refuses the record: too large, invalid) is tried
    once more without the payload; a retriable one (``exc.retriable``, aiokafka's
    convention) up to ``tries`` times with doubling delays from ``first_delay`` s (at most
    8 s apart). Never raises an Exception: when every try failed it logs the record's
    topic, partition, offset and reason at ERROR and returns False."""
    delay = first_delay
    failure = ""
    for _ in range(tries):
        try:
            await send(letter)
        except Exception as exc:  # any send failure: the consumer must go on
            failure = reason_of(exc)
            if getattr(exc, "retriable", False):
                await asyncio.sleep(delay)
                delay = min(delay * 2, MAX_DELAY)
                continue
            if not letter.payload:
                break
            letter = replace(letter, payload="", reason=f"{letter.reason} [payload dropped]")
            continue
        log.warning(
            "dead letter from %s[%d]@%d: %s",
            letter.source_topic,
            letter.partition,
            letter.offset,
            clip_text(letter.reason, 300),
        )
        COUNTS["written"] += 1
        return True
    log.error(
        "dead letter from %s[%d]@%d could not be written (%s); skipping the record: %s",
        letter.source_topic,
        letter.partition,
        letter.offset,
        clip_text(failure, 300),
        clip_text(letter.reason, 300),
    )
    COUNTS["lost"] += 1
    return False


def kafka_sender(producer: Any, topic: str) -> Callable[[DeadLetter], Awaitable[Any]]:
    """A ``send`` for :func:`deliver` through an aiokafka producer, waiting for the ack."""
    from gamsi.schemas.codec import encode

    async def send(letter: DeadLetter) -> Any:
        return await producer.send_and_wait(topic, encode(letter), key=letter_key(letter))

    return send


__all__ = ["deliver", "kafka_sender", "letter_key", "reason_of", "screen"]
