"""Fuzz: no record of any size or shape stops a consumer (issue 10, section 1).

Random and hostile bytes go through each consumer's own record handler — the stream
worker's ``judge_batch``, the notifier's ``accept_record``, the history writer's
``ingest`` — behind the shared :func:`gamsi.deadletter.screen`. Each must return
normally: the record is either taken (and then fully, with the consumer's state still
consistent) or becomes one bounded dead letter.
"""

from __future__ import annotations

import asyncio
import time
from functools import partial
from typing import Any, NamedTuple

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gamsi.deadletter import deliver, reason_of, screen
from gamsi.history.rows import decode_delivery
from gamsi.history.writer import HistoryWriter
from gamsi.notifier.channels.slack import blocks
from gamsi.notifier.service import accept_record
from gamsi.schemas.codec import DecodeError, decode, encode
from gamsi.schemas.records import MAX_DEAD_LETTER_BYTES, DeadLetter, MetricBatch, Sample
from gamsi.settings import Settings, load_settings
from gamsi.streams.app import configured_engine
from gamsi.streams.worker import judge_batch
from gamsi.topics import deliveries_topic
from tests.unit.notifier.conftest import SIMPLE, Harness

SETTINGS: Settings = load_settings(environ={})
K = SETTINGS.kafka
NOW = 1_800_000_000.0
ENGINE = configured_engine(SETTINGS)
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


class Record(NamedTuple):
    """What aiokafka and Faust hand a consumer: the fields screen and DeadLetter.of read."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None


EVENT = {
    "v": 1,
    "kind": "severity_event",
    "event_id": "e1",
    "host": "web-1",
    "item": "cpu.util",
    "instance": "",
    "watch": "cpu",
    "severity": 4,
    "previous": 0,
    "transition": "raise",
    "value": 97.0,
    "threshold": 90.0,
    "ts": NOW,
}
BATCH = orjson.loads(
    encode(
        MetricBatch(
            host="web-1",
            ts=NOW,
            samples=[Sample("cpu.util", 97.0), Sample("disk.used_pct", 50.0, "/")],
            tags=["web"],
        )
    )
)
DELIVERY = {
    "v": 1,
    "kind": "delivery",
    "ts": NOW,
    "event_id": "e1",
    "channel": "slack",
    "result": "sent",
    "severity": 4,
}

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-2, max_value=8)
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats()
    | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=12,
)
hostile_raw = st.sampled_from(
    [
        b"[" * 1000 + b'"x"' + b"]" * 1000,  # the 1,000-deep list
        b"[" * 5000 + b"]" * 5000,
        b"1e400",
        b"NaN",
        b"-Infinity",
        b'"' + b"\\u0000" * 1000 + b'"',
        b"18446744073709551616",  # 2**64: past what orjson reads as an integer
    ]
)


def _mutated(base: dict[str, Any], key: str, raw: bytes) -> bytes:
    """``base`` as JSON with ``key`` set to the raw JSON text ``raw`` (the last one wins)."""
    return orjson.dumps(base)[:-1] + b',"' + key.encode() + b'":' + raw + b"}"


def _records(base: dict[str, Any]) -> st.SearchStrategy[bytes]:
    keys = st.sampled_from([*base, "samples", "extra"])
    value = json_values.map(orjson.dumps) | hostile_raw
    return st.one_of(
        st.binary(max_size=300),
        st.just(bytes(range(32)) * 6400),  # 200 kB of control bytes
        json_values.map(orjson.dumps),
        st.builds(partial(_mutated, base), keys, value),
        st.builds(lambda k, v: _mutated({**base, "samples": [v]}, "x", b"1"), keys, json_values),
    )


def _message(topic: str, value: bytes) -> Record:
    return Record(topic, 0, 7, b"\x00" * 300, value)


def _letter_is_bounded(letter: DeadLetter, value: bytes) -> None:
    assert len(encode(letter)) < MAX_DEAD_LETTER_BYTES
    assert letter.payload_size == len(value)
    assert (letter.partition, letter.offset) == (0, 7)


@FUZZ
@given(value=_records(BATCH))
def test_stream_worker_handler_returns_normally(value: bytes) -> None:
    table: dict[str, Any] = {}
    judged, letter = screen(
        _message(K.metrics_topic, value),
        partial(judge_batch, ENGINE, table, partition=0),
        "w",
    )
    if letter is None:
        host, transitions = judged  # type: ignore[misc]
        assert table[host]["p"] == 0
        assert isinstance(transitions, list)
    else:
        assert table == {}, "a rejected batch leaves no state behind"
        _letter_is_bounded(letter, value)


@FUZZ
@given(value=_records(EVENT))
def test_notifier_handler_returns_normally_and_flush_survives(value: bytes) -> None:
    harness = Harness(SIMPLE)
    letter = accept_record(harness.pipeline, _message(K.events_topic, value), NOW, "w")
    if letter is not None:
        _letter_is_bounded(letter, value)
    # Whatever was accepted can be formatted and sent: the crash of severity 6 was here.
    asyncio.run(harness.pipeline.flush(NOW + 3600, everything=True))
    for notification in harness.sent("slack"):
        assert notification.text()
        assert blocks(notification)


@FUZZ
@given(value=_records(BATCH) | _records(EVENT) | _records(DELIVERY))
def test_history_handler_returns_normally_and_keeps_columns_aligned(value: bytes) -> None:
    writer = HistoryWriter(SETTINGS, None, None, None)  # type: ignore[arg-type]
    for topic in (K.metrics_topic, K.events_topic, deliveries_topic(SETTINGS)):
        letter = writer.ingest(_message(topic, value))
        if letter is not None:
            _letter_is_bounded(letter, value)
    for columns in writer.buffer.tables():
        assert len({len(c) for c in columns.data}) == 1, columns.table.name


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"severity": 6}, "severity: expected a severity 0..5"),
        ({"severity": -1}, "severity: expected a severity 0..5"),
        ({"host": ""}, "host: must not be empty"),
        ({"event_id": ""}, "event_id: must not be empty"),
        ({"ts": -86400.0}, "ts: expected seconds since 1970"),
        ({"ts": 1e10}, "ts: expected seconds since 1970"),
    ],
)
def test_notifier_dead_letters_what_history_dead_letters(
    change: dict[str, Any], reason: str
) -> None:
    value = orjson.dumps({**EVENT, **change})
    harness = Harness(SIMPLE)
    notified = accept_record(harness.pipeline, _message(K.events_topic, value), NOW, "w")
    writer = HistoryWriter(SETTINGS, None, None, None)  # type: ignore[arg-type]
    stored = writer.ingest(_message(K.events_topic, value))
    assert notified is not None
    assert reason in notified.reason
    assert stored is not None
    assert stored.reason == notified.reason
    asyncio.run(harness.pipeline.flush(NOW + 3600, everything=True))
    assert harness.sent("slack") == []


BOUNDARY: list[Any] = [
    *(-1, 0, 5, 6, 2**63, -(2**63), 2**64 - 1),
    *(-1.0, 0.0, 0.5, 1e10, 1e300, -1e300),
    *("", "x", "\x00" * 3, "raise", "recover", "bogus"),
    *([], ["x"], [1], {}, None, True),
]


def test_every_field_at_its_boundaries_notifier_and_history_agree() -> None:
    """A generator, not a sample: each event field set to each boundary value. The
    notifier accepts exactly what history accepts, and everything accepted is formatted
    and sent (the notifier used to crash formatting severity 6)."""
    accepted = 0
    for key in [*EVENT, "since", "emitted_at", "message", "tags"]:
        for value in BOUNDARY:
            data = orjson.dumps({**EVENT, key: value})
            harness = Harness(SIMPLE)
            notified = accept_record(harness.pipeline, _message(K.events_topic, data), NOW, "w")
            writer = HistoryWriter(SETTINGS, None, None, None)  # type: ignore[arg-type]
            stored = writer.ingest(_message(K.events_topic, data))
            assert (notified is None) == (stored is None), (key, value)
            if notified is None:
                accepted += 1
                asyncio.run(harness.pipeline.flush(NOW + 3600, everything=True))
                for sent in harness.sent("slack"):  # a raise to severity 0 is not told
                    assert sent.text()
                    assert blocks(sent)
    assert 30 < accepted < 200  # both kinds of outcome were exercised


def test_stream_worker_dead_letters_200kb_of_control_bytes() -> None:
    value = bytes(range(32)) * 6400
    _, letter = screen(
        _message(K.metrics_topic, value), partial(judge_batch, ENGINE, {}, partition=0), "w"
    )
    assert letter is not None
    assert letter.reason.startswith("not JSON")
    _letter_is_bounded(letter, value)


def test_a_bug_a_record_triggers_is_a_dead_letter_too() -> None:
    def handle(value: bytes) -> None:
        raise IndexError("list index out of range")

    _, letter = screen(_message("t", b"{}"), handle, "w")
    assert letter is not None
    assert letter.reason == "IndexError while handling the record: list index out of range"


def test_reason_of_an_exception_whose_str_raises() -> None:
    class Nasty(Exception):
        def __str__(self) -> str:
            raise RecursionError("maximum recursion depth exceeded")

    assert "could not be formatted" in reason_of(Nasty())
    assert reason_of(DecodeError("x" * 5000)).endswith("(5000 characters)")


class _Refused(Exception):
    retriable = False


class _Away(Exception):
    retriable = True


def _letter() -> DeadLetter:
    return DeadLetter("not JSON", "t", 0, 7, "x" * 4096, "k", time.time(), "w", 9_999)


async def test_deliver_resends_a_refused_letter_as_a_reference() -> None:
    sent: list[DeadLetter] = []

    async def send(letter: DeadLetter) -> None:
        if letter.payload:
            raise _Refused("MessageSizeTooLargeError")
        sent.append(letter)

    assert await deliver(send, _letter())
    assert len(sent) == 1
    assert (sent[0].payload, sent[0].offset) == ("", 7)
    assert sent[0].reason == "not JSON [payload dropped]"


async def test_deliver_retries_a_retriable_error_then_gives_up_without_raising() -> None:
    calls: list[float] = []

    async def send(letter: DeadLetter) -> None:
        calls.append(time.monotonic())
        raise _Away("KafkaConnectionError")

    assert not await deliver(send, _letter(), tries=3, first_delay=0.0)
    assert len(calls) == 3


async def test_deliver_writes_once_when_the_broker_takes_it() -> None:
    sent: list[DeadLetter] = []

    async def send(letter: DeadLetter) -> None:
        sent.append(letter)

    assert await deliver(send, _letter())
    assert len(sent) == 1
    assert sent[0].payload == "x" * 4096


@FUZZ
@given(value=_records(BATCH) | _records(EVENT) | _records(DELIVERY))
def test_decode_raises_nothing_but_decode_error(value: bytes) -> None:
    """Consumers outside the three (the web status page, the remediator, ``events tail``)
    catch only DecodeError: nothing else may come out of the codec."""
    reasons = []
    for decoder in (decode, decode_delivery):
        try:
            decoder(value)
        except DecodeError as exc:
            reasons.append(str(exc))
    assert all(len(reason) < 1_000 for reason in reasons)
