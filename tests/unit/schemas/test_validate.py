"""One validation for every consumer: the issue's poison records and their neighbours.

Each case is a record that passed the codec's type checks before and crashed or fooled
a consumer (issue 10, section 1): it must now be a DecodeError with a one-line, bounded
reason — never RecursionError, never a notification.
"""

from __future__ import annotations

import orjson
import pytest

from gamsi.schemas.codec import DecodeError, decode, decode_severity_event, encode
from gamsi.schemas.records import (
    MAX_DEAD_LETTER_BYTES,
    DeadLetter,
    MetricBatch,
    Sample,
)
from gamsi.schemas.validate import check_event, describe
from tests.unit.notifier.conftest import event

EVENT = event("web-1")  # a valid URGENT raise (tests/unit/notifier/conftest.py)
BATCH = MetricBatch(host="web-1", ts=1_700_000_000.0, samples=[Sample("cpu.util", 1.0)])


def _event(**changes: object) -> bytes:
    return orjson.dumps({**orjson.loads(encode(EVENT)), **changes})


def _batch(**changes: object) -> bytes:
    return orjson.dumps({**orjson.loads(encode(BATCH)), **changes})


def _nested(depth: int) -> bytes:
    """A JSON list nested ``depth`` deep (orjson.dumps stops at 255, the wire does not)."""
    return b"[" * depth + b'"x"' + b"]" * depth


def _with_raw(data: bytes, field: str, raw: bytes) -> bytes:
    """``data`` with ``field`` set to the raw JSON text ``raw``."""
    return data[:-1] + b',"' + field.encode() + b'":' + raw + b"}"


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (_event(severity=6), "severity: expected a severity 0..5, got 6"),
        (_event(severity=-1), "severity: expected a severity 0..5, got -1"),
        (_event(previous=6), "previous: expected a severity 0..5"),
        (_event(host=""), "host: must not be empty"),
        (_event(event_id=""), "event_id: must not be empty"),
        (_event(item=""), "item: must not be empty"),
        (_event(ts=-1.0), "ts: expected seconds since 1970 before 2286"),
        (_event(ts=0), "ts: expected seconds since 1970 before 2286"),
        (_event(ts=10_000_000_000.0), "ts: expected seconds since 1970 before 2286"),
        (_event(since=1e300), "since: expected seconds since 1970"),
        (_event(emitted_at=-5), "emitted_at: expected seconds since 1970"),
        (_event(transition="explode"), "transition: expected one of deescalate, escalate"),
        (_batch(ts=-1.0), "ts: expected seconds since 1970"),
        (_batch(ts=1e300), "ts: expected seconds since 1970"),
        (_batch(seq=-1), "seq: expected an integer 0..2\\^63-1"),
        (_batch(interval=-10.0), "interval: expected 0..86400 s"),
    ],
)
def test_out_of_range_records_are_decode_errors(data: bytes, reason: str) -> None:
    with pytest.raises(DecodeError, match=reason):
        decode(data)


def test_severity_six_never_reaches_the_notifier_and_five_does() -> None:
    with pytest.raises(DecodeError):
        decode_severity_event(_event(severity=6))
    assert decode_severity_event(_event(severity=5)).severity == 5


@pytest.mark.parametrize("field", ["tags", "kind", "host"])
def test_a_list_nested_1000_deep_is_a_decode_error_not_recursion(field: str) -> None:
    data = _with_raw(encode(BATCH), field, _nested(1000))
    with pytest.raises(DecodeError) as caught:
        decode(data)
    assert "a list of 1 item" in str(caught.value)
    assert len(str(caught.value)) < 200


def test_nested_instance_in_a_sample_is_a_decode_error() -> None:
    sample = b'{"item":"disk.used_pct","value":1,"instance":' + _nested(1000) + b"}"
    data = _with_raw(encode(BATCH), "samples", b"[" + sample + b"]")
    with pytest.raises(DecodeError, match=r"samples\[0\].instance: expected a string"):
        decode(data)


def test_nesting_past_the_parser_limit_is_a_decode_error() -> None:
    with pytest.raises(DecodeError, match="not JSON"):
        decode(_with_raw(encode(BATCH), "tags", _nested(5000)))


def test_many_unknown_fields_give_a_short_reason() -> None:
    body = {**orjson.loads(encode(EVENT)), **{f"k{i}" * 50: i for i in range(10_000)}}
    with pytest.raises(DecodeError, match="and 9995 more") as caught:
        decode(orjson.dumps(body))
    assert len(str(caught.value)) < 400


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, "null"),
        (True, "true"),
        (3, "3"),
        (2**70, "an integer of 71 bits"),
        (1.5, "1.5"),
        ("ab", "'ab'"),
        ("x" * 1000, "... (1000 characters)"),
        ([1, 2], "a list of 2 items"),
        ({"a": 1}, "an object with 1 key"),
        (b"x", "a bytes"),
    ],
)
def test_describe_is_short_and_never_recursive(value: object, text: str) -> None:
    assert text in describe(value)
    assert len(describe(value)) < 120


def test_describe_of_a_deep_python_list_does_not_recurse() -> None:
    deep: list[object] = []
    for _ in range(100_000):
        deep = [deep]
    assert describe(deep) == "a list of 1 item"


def test_records_built_in_code_pass_the_same_check() -> None:
    assert check_event(EVENT) is EVENT
    from dataclasses import replace

    with pytest.raises(DecodeError, match="severity"):
        check_event(replace(EVENT, severity=6))


class _Message:
    topic, partition, offset = "gamsi.events", 3, 42

    def __init__(self, value: bytes | None, key: bytes | None) -> None:
        self.value, self.key = value, key


@pytest.mark.parametrize(
    ("value", "key"),
    [
        (bytes(range(32)) * 6400, b"web-1"),  # the 200 kB of control bytes
        (b"\xff\xfe" * 500_000, b"\x00" * 900_000),  # 1 MB of invalid UTF-8, huge key
        (None, None),
    ],
)
def test_dead_letter_is_bounded_whatever_the_message(
    value: bytes | None, key: bytes | None
) -> None:
    letter = DeadLetter.of("r\x00" * 100_000, _Message(value, key), "w")
    data = encode(letter)
    assert len(data) < MAX_DEAD_LETTER_BYTES
    back = decode(data)
    assert isinstance(back, DeadLetter)
    assert back.payload_size == (0 if value is None else len(value))
    assert (back.source_topic, back.partition, back.offset) == ("gamsi.events", 3, 42)
    assert back.reason.endswith("(200000 characters)")


def test_small_dead_letter_keeps_the_payload_whole() -> None:
    letter = DeadLetter.of("not JSON", _Message(b"{not json", b"k"), "w")
    assert (letter.payload, letter.key, letter.payload_size) == ("{not json", "k", 9)


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (99.8998, "99.9"),
        (90.0, "90"),
        (0.0523, "0.0523"),
        (1234567.0, "1,234,567"),
        (-2.25, "-2.2"),
    ],
)
def test_values_in_messages_read_as_people_write_them(value: float, shown: str) -> None:
    """The README promises `cpu.util = 99.9`; the raw float printed 99.8998."""
    from gamsi.schemas.records import reading

    assert reading(value) == shown
