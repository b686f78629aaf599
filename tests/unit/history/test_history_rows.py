"""Records to columns, and the checks that keep bad data out of an insert."""

from __future__ import annotations

from dataclasses import replace

import orjson
import pytest

from gamsi.history.rows import Buffer, decode_delivery
from gamsi.schemas.codec import DecodeError
from gamsi.schemas.records import MetricBatch, Sample, SeverityEvent

EVENT = SeverityEvent(
    event_id="e1",
    host="web-1",
    item="cpu.util",
    instance="",
    watch="cpu",
    severity=4,
    previous=0,
    transition="raise",
    value=97.0,
    threshold=90.0,
    ts=1_700_000_000.25,
    tags=["web"],
)

DELIVERY = {
    "v": 1,
    "kind": "delivery",
    "ts": 1_700_000_001.5,
    "event_id": "e1",
    "route": "ops",
    "channel": "slack",
    "recipient": "#gamsi",
    "host": "web-1",
    "item": "cpu.util",
    "instance": "",
    "severity": 4,
    "transition": "raise",
    "result": "sent",
    "attempts": 2,
    "error": "",
}


def test_batch_becomes_one_row_per_sample_with_millisecond_ticks() -> None:
    buf = Buffer()
    buf.add_batch(
        MetricBatch(
            host="web-1",
            ts=1_700_000_000.123,
            samples=[Sample("cpu.util", 12.5), Sample("disk.used_pct", 40.0, "/")],
            tags=["web"],
        )
    )
    assert buf.samples.data == [
        [1_700_000_000_123, 1_700_000_000_123],
        ["web-1", "web-1"],
        ["cpu.util", "disk.used_pct"],
        ["", "/"],
        [12.5, 40.0],
        [["web"], ["web"]],
    ]
    assert len(buf) == 2
    buf.samples.clear()
    assert len(buf) == 0


def test_event_row_follows_the_table_columns() -> None:
    buf = Buffer()
    buf.add_event(EVENT)
    row = dict(zip(buf.events.table.columns, (c[0] for c in buf.events.data), strict=True))
    assert row["event_id"] == "e1"
    assert row["ts"] == 1_700_000_000_250
    assert row["since"] == 0
    assert row["severity"] == 4
    assert row["tags"] == ["web"]


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"severity": "4"}, "severity: expected a severity 0..5"),
        ({"previous": 9}, "previous: expected a severity 0..5"),
        ({"severity": True}, "severity"),
        ({"value": "high"}, "value: expected a number"),
        ({"ts": float("nan")}, "ts: expected a finite number"),
        ({"ts": 1e12}, "ts: expected seconds since 1970"),
        ({"host": 7}, "host: expected a string"),
        ({"event_id": ""}, "must not be empty"),
        ({"tags": "web"}, "tags: expected a list of strings"),
    ],
)
def test_bad_event_is_refused_before_it_reaches_the_buffer(
    change: dict[str, object], reason: str
) -> None:
    buf = Buffer()
    with pytest.raises(DecodeError, match=reason):
        buf.add_event(replace(EVENT, **change))  # type: ignore[arg-type]
    assert len(buf) == 0


def test_batch_with_an_impossible_time_is_refused() -> None:
    buf = Buffer()
    with pytest.raises(DecodeError, match="ts: expected seconds since 1970"):
        buf.add_batch(MetricBatch(host="h", ts=-1.0, samples=[Sample("cpu.util", 1.0)]))
    assert len(buf) == 0


def test_delivery_decodes_to_the_table_columns() -> None:
    row = decode_delivery(orjson.dumps({**DELIVERY, "future_key": 1}))
    buf = Buffer()
    buf.add_delivery(row)
    assert [c[0] for c in buf.deliveries.data] == [
        1_700_000_001_500,
        "e1",
        "ops",
        "slack",
        "#gamsi",
        "web-1",
        "cpu.util",
        "",
        4,
        "raise",
        "sent",
        2,
        "",
    ]


def test_delivery_optional_fields_default() -> None:
    minimal = {k: DELIVERY[k] for k in ("v", "kind", "ts", "event_id", "channel", "result")}
    row = decode_delivery(orjson.dumps(minimal))
    assert (row["route"], row["severity"], row["attempts"]) == ("", 0, 0)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"[1]", "expected a JSON object"),
        (b"nope", "not JSON"),
        (orjson.dumps({**DELIVERY, "v": 99}), "schema version 99 is not supported"),
        (orjson.dumps({**DELIVERY, "v": "1"}), "schema version"),
        (orjson.dumps({**DELIVERY, "kind": "metric_batch"}), "expected kind 'delivery'"),
        (orjson.dumps({k: v for k, v in DELIVERY.items() if k != "ts"}), "missing fields"),
        (orjson.dumps({**DELIVERY, "attempts": 1.5}), "attempts: expected a whole number"),
        (orjson.dumps({**DELIVERY, "attempts": -1}), "attempts: expected 0 or more"),
        (orjson.dumps({**DELIVERY, "severity": 6}), "severity: expected a severity 0..5"),
        (orjson.dumps({**DELIVERY, "channel": 3}), "channel: expected a string"),
        (orjson.dumps({**DELIVERY, "ts": "now"}), "ts: expected a number"),
    ],
)
def test_bad_delivery_is_a_decode_error(data: bytes, reason: str) -> None:
    with pytest.raises(DecodeError, match=reason):
        decode_delivery(data)
