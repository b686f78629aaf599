"""The wire codec: round trips, the version field, and reasons for every rejection."""

from __future__ import annotations

import orjson
import pytest

from gamsi.schemas import (
    SCHEMA_VERSION,
    DeadLetter,
    DecodeError,
    MetricBatch,
    Sample,
    Severity,
    SeverityEvent,
    decode,
    encode,
)
from gamsi.schemas.codec import decode_metric_batch, decode_severity_event, json_schema
from gamsi.schemas.records import RECORD_TYPES


def _batch() -> MetricBatch:
    return MetricBatch(
        host="web-1",
        ts=1_700_000_000.25,
        samples=[Sample("cpu.util", 12.5), Sample("disk.used_pct", 71.0, "/var")],
        seq=7,
        interval=10.0,
        os="linux",
        tags=["web", "prod"],
    )


def _event() -> SeverityEvent:
    return SeverityEvent(
        event_id="abc",
        host="web-1",
        item="cpu.util",
        instance="",
        watch="cpu-busy",
        severity=4,
        previous=0,
        transition="raise",
        value=97.0,
        threshold=90.0,
        ts=1_700_000_000.0,
        since=1_700_000_000.0,
        emitted_at=1_700_000_000.1,
        message="web-1 cpu.util is URGENT",
        tags=["web"],
    )


@pytest.mark.parametrize(
    "record",
    [
        _batch(),
        _event(),
        DeadLetter("bad", "gamsi.metrics", 1, 42, "{", "web-1", 1.0, "w"),
    ],
)
def test_round_trip(record: object) -> None:
    assert decode(encode(record)) == record  # type: ignore[arg-type]


def test_every_message_carries_version_and_kind() -> None:
    body = orjson.loads(encode(_batch()))
    assert body["v"] == SCHEMA_VERSION
    assert body["kind"] == "metric_batch"
    assert body["samples"][1] == {"item": "disk.used_pct", "value": 71.0, "instance": "/var"}


def test_typed_decoders_refuse_the_other_kind() -> None:
    with pytest.raises(DecodeError, match="expected a metric_batch"):
        decode_metric_batch(encode(_event()))
    with pytest.raises(DecodeError, match="expected a severity_event"):
        decode_severity_event(encode(_batch()))


def _event_with(**changes: object) -> bytes:
    body = orjson.loads(encode(_event()))
    body.update(changes)
    return orjson.dumps(body)


def _mutated(**changes: object) -> bytes:
    body = orjson.loads(encode(_batch()))
    body.update(changes)
    return orjson.dumps(body)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"not json", "not JSON"),
        (b"[1, 2]", "expected a JSON object"),
        (orjson.dumps({"kind": "metric_batch"}), "schema version"),
        (_mutated(v=SCHEMA_VERSION + 1), "not supported"),
        (_mutated(kind="nonsense"), "unknown kind"),
        (_mutated(host=""), "host: must not be empty"),
        (_mutated(host=5), "host: expected a string"),
        (_mutated(ts="yesterday"), "ts: expected a number"),
        (_mutated(samples={}), "samples: expected a list"),
        (_mutated(samples=[{"item": "cpu.util", "value": "high"}]), r"samples\[0\].value"),
        (_mutated(samples=[{"item": "", "value": 1}]), r"samples\[0\].item"),
        (_mutated(samples=[{"item": "x", "value": 1, "instance": 3}]), "instance"),
        (_mutated(tags="web"), "tags: expected a list"),
        (_mutated(seq=1.5), "seq: expected an integer"),
        (
            orjson.dumps({"v": 1, "kind": "severity_event", "host": "h", "bogus": 1}),
            "unknown fields",
        ),
        (orjson.dumps({"v": 1, "kind": "severity_event", "host": "h"}), "missing field"),
        (_event_with(severity="x"), r"severity_event.severity: expected an integer"),
        (_event_with(value="high"), r"severity_event.value: expected a number"),
        (_event_with(host=3), r"severity_event.host: expected a string"),
        (_event_with(tags=[1]), r"severity_event.tags: expected a list of strings"),
    ],
)
def test_malformed_messages_are_rejected_with_a_reason(data: bytes, reason: str) -> None:
    with pytest.raises(DecodeError, match=reason):
        decode(data)


@pytest.mark.parametrize(
    ("literal", "reason"),
    [
        (b"NaN", "not JSON: unexpected character"),
        (b"Infinity", "not JSON: unexpected character"),
        (b"1e400", "not JSON: number is infinity"),
        (b"-1e400", "not JSON: number is infinity"),
    ],
)
def test_non_finite_values_on_the_wire_are_not_json(literal: bytes, reason: str) -> None:
    """Other producers can send these literals; orjson refuses them while parsing, so the
    codec's finite-number check is never what stops them (the test below reaches it)."""
    data = encode(_batch()).replace(b"12.5", literal)
    assert literal in data
    with pytest.raises(DecodeError, match=reason):
        decode(data)


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_non_finite_values_built_in_code_are_refused_by_the_finite_check(value: float) -> None:
    """Records built in code (not decoded) pass the same validation: here the check for a
    finite number is what refuses them."""
    from dataclasses import replace

    from gamsi.schemas.validate import check_batch, check_event

    batch = _batch()
    batch.samples = [Sample("cpu.util", value)]
    with pytest.raises(DecodeError, match=r"samples\[0\]\.value: expected a finite number"):
        check_batch(batch)
    with pytest.raises(DecodeError, match="threshold: expected a finite number"):
        check_event(replace(_event(), threshold=value))
    with pytest.raises(DecodeError, match="ts: expected a finite number"):
        check_event(replace(_event(), ts=value))


def test_severity_order_colours_and_names() -> None:
    assert list(Severity) == sorted(Severity)
    assert Severity.NORMAL < Severity.HARMLESS < Severity.CAUTION < Severity.DANGER
    assert Severity.DANGER < Severity.URGENT < Severity.FATAL
    assert [s.korean for s in Severity] == ["정상", "무해", "주의", "위험", "긴급", "치명"]
    assert len({s.colour for s in Severity}) == 6
    assert Severity.parse("Urgent") is Severity.URGENT
    with pytest.raises(ValueError, match="expected one of normal, harmless"):
        Severity.parse("bad")


@pytest.mark.parametrize("kind", sorted(RECORD_TYPES))
def test_json_schema_documents_every_field_with_a_description(kind: str) -> None:
    schema = json_schema(RECORD_TYPES[kind])
    fields = {k: v for k, v in schema["properties"].items() if k not in {"v", "kind"}}
    assert fields
    assert all(v["description"] for v in fields.values())
