"""The columnar decode of metric batches: the same verdict as the per-sample check, always.

The codec checks a batch's samples in bulk (gamsi.schemas.columns.fast_columns) and falls
back to the per-sample check only when a sample may be bad; these tests force the
per-sample check and compare: every input gets the same record or the same reason.
"""

from __future__ import annotations

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gamsi.schemas import DecodeError, MetricBatch, Sample, encode
from gamsi.schemas import codec as codec_module
from gamsi.schemas.codec import decode_metric_batch
from gamsi.schemas.columns import SampleColumns, fast_columns, of_item, rows


def _raw(samples: list[object]) -> bytes:
    head = {"v": 1, "kind": "metric_batch", "host": "web-1", "ts": 1.7e9, "seq": 3}
    return orjson.dumps({**head, "samples": samples, "interval": 10.0, "tags": ["t"]})


def _verdict(data: bytes, columns: bool = False) -> object:
    try:
        batch = decode_metric_batch(data, columns=columns)
    except DecodeError as exc:
        return ("refused", str(exc))
    return ("ok", batch.host, list(batch.samples))


def _exact(data: bytes, monkeypatch: pytest.MonkeyPatch) -> object:
    with monkeypatch.context() as m:
        m.setattr(codec_module, "fast_columns", lambda raw, data=None: None)
        return _verdict(data)


HOSTILE: list[list[object]] = [
    [{"item": "cpu.util", "value": 1.5}, {"item": "a\u001bb", "value": 1}],  # ESC, escaped
    [{"item": "disk.used_pct", "value": 2, "instance": "/var\nlog"}],  # newline
    [{"item": "x\u007f", "value": 1}],  # DEL, raw byte in the JSON
    [{"item": "x", "value": 1, "instance": "c1\u0085"}],  # C1 (NEL)
    [{"item": "x", "value": 1, "instance": "C:\\"}],  # a backslash but no control: valid
    [{"item": "x", "value": 1, "instance": "nbsp\u00a0é"}],  # unprintable, not control: valid
    [{"item": "x", "value": True}],
    [{"item": "x", "value": None}],
    [{"item": "x"}],
    [{"item": "x", "value": "1"}],
    [{"item": "x", "value": [1]}],
    [{"item": "", "value": 1}],
    [{"value": 1}],
    [{"item": 5, "value": 1}],
    [{"item": "x", "value": 1, "instance": None}],
    [{"item": "x", "value": 1, "instance": 7}],
    [{"item": "x", "value": 1}, "not an object"],
    [{"item": "x", "value": 1}, ["item", "value"]],
    [{"item": "x", "value": 1}, None],
    [{"item": "x", "value": 18446744073709551615}, {"item": "y", "value": -1e308}],
    [{"item": "x", "value": 1e308}, {"item": "y", "value": 1e308}],  # finite; the sum is not
    [{"item": "x", "value": 1, "extra": {"deep": [1, 2]}}],
    [],
]


@pytest.mark.parametrize("samples", HOSTILE)
def test_hostile_samples_get_the_per_sample_verdict(
    samples: list[object], monkeypatch: pytest.MonkeyPatch
) -> None:
    data = _raw(samples)
    assert _verdict(data) == _exact(data, monkeypatch)
    assert _verdict(data, columns=True) == _exact(data, monkeypatch)


def test_the_first_bad_sample_is_named_with_its_reason() -> None:
    data = _raw([{"item": "ok", "value": 1}, {"item": "x", "value": True}, {"item": ""}])
    with pytest.raises(DecodeError, match=r"^samples\[1\]\.value: expected a number, got true$"):
        decode_metric_batch(data, columns=True)
    escaped = _raw([{"item": "ok", "value": 1, "instance": "a\u001bb"}])
    with pytest.raises(DecodeError, match=r"samples\[0\]\.instance: control character \\x1b"):
        decode_metric_batch(escaped, columns=True)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**64), 2**64) | st.floats(allow_nan=False)
    | st.text(max_size=6),
    lambda inner: st.lists(inner, max_size=2)
    | st.dictionaries(st.text(max_size=3), inner, max_size=2),
    max_leaves=4,
)  # fmt: skip
NAME = st.sampled_from(["cpu.util", "a\x1bb", "", "C:\\", "é", "x\x7f", "\x85"]) | JSON
SAMPLE = st.fixed_dictionaries(
    {}, optional={"item": NAME, "value": JSON | st.floats(allow_nan=False), "instance": NAME}
) | JSON  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.lists(SAMPLE, max_size=5))
def test_any_samples_get_the_per_sample_verdict(samples: list[object]) -> None:
    try:
        data = _raw(samples)
    except orjson.JSONEncodeError:  # an integer JSON cannot carry
        return
    fast = _verdict(data)
    original = codec_module.fast_columns
    codec_module.fast_columns = lambda raw, data=None: None
    try:
        exact = _verdict(data)
    finally:
        codec_module.fast_columns = original
    assert fast == exact
    assert _verdict(data, columns=True) == exact


def test_columns_read_as_the_samples_they_hold() -> None:
    batch = MetricBatch(
        "web-1", 1.7e9, [Sample("cpu.util", 5.0), Sample("disk.used_pct", 7.0, "/")]
    )
    decoded = decode_metric_batch(encode(batch), columns=True)
    samples = decoded.samples
    assert isinstance(samples, SampleColumns)
    assert samples.items == ["cpu.util", "disk.used_pct"]
    assert samples.values == [5.0, 7.0]
    assert samples.instances == ["", "/"]
    assert decoded == batch
    assert batch.samples == samples  # equal either way round
    assert samples[1] == Sample("disk.used_pct", 7.0, "/")
    assert samples[-1:] == batch.samples[-1:]
    assert list(rows(samples)) == list(rows(batch.samples)) == [
        ("cpu.util", 5.0, ""), ("disk.used_pct", 7.0, "/"),
    ]  # fmt: skip
    assert encode(decoded) == encode(batch)  # a decoded batch encodes as the original


def test_integer_values_become_floats_as_before() -> None:
    columns = fast_columns([{"item": "x", "value": 3}, {"item": "y", "value": 2.5}])
    assert columns == (["x", "y"], [3.0, 2.5], ["", ""])
    assert type(columns[1][0]) is float


def test_of_item_finds_every_instance_in_order_either_form() -> None:
    batch = MetricBatch(
        "web-1",
        1.7e9,
        [Sample("disk.used_pct", 1.0, "/"), Sample("cpu.util", 2.0),
         Sample("disk.used_pct", 3.0, "/var"), Sample("disk.used_pct", 4.0, "/data")],
    )  # fmt: skip
    columns = decode_metric_batch(encode(batch), columns=True).samples
    expected = [(1.0, "/"), (3.0, "/var"), (4.0, "/data")]
    assert of_item(columns, "disk.used_pct") == of_item(batch.samples, "disk.used_pct") == expected
    assert of_item(columns, "net.rx_bits_per_s") == []
