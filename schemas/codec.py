"""The one wire codec: orjson, a version field, and strict decoding.

Producers and consumers (aiokafka services and the Faust app, through
:mod:`gamsi.schemas.faust_codec`) all call :func:`encode` and :func:`decode`.
Decoding validates types because a worker must never die on data: anything
wrong raises :class:`DecodeError` with a reason a person can act on, and the
caller sends the message to the dead-letter topic.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import MISSING, fields
from typing import Any

import orjson

from gamsi.schemas.columns import Columns, SampleColumns, fast_columns
from gamsi.schemas.records import (
    RECORD_TYPES,
    SCHEMA_VERSION,
    DeadLetter,
    MetricBatch,
    Sample,
    SeverityEvent,
)
from gamsi.schemas.validate import (
    DecodeError,
    check_batch_header,
    check_dead_letter,
    check_event,
    check_finite,
    check_name,
    describe,
)

Record = MetricBatch | SeverityEvent | DeadLetter
CHECKS: dict[str, Any] = {  # a metric batch: _metric_batch checks each sample, then its header
    SeverityEvent.kind: check_event,
    DeadLetter.kind: check_dead_letter,
}


def encode(record: Record) -> bytes:
    # orjson serialises (slotted) dataclasses natively, far faster than asdict();
    # the version and kind are spliced in front of the record's own fields.
    body = orjson.dumps(record, default=_encodable)
    return b'{"v":%d,"kind":"%s",%s' % (SCHEMA_VERSION, record.kind.encode(), body[1:])


def _encodable(value: Any) -> Any:
    """orjson's ``default`` hook: a decoded batch's :class:`SampleColumns` as its samples."""
    if isinstance(value, SampleColumns):
        return list(value)
    raise TypeError(f"cannot encode {type(value).__name__}")


def read_envelope(data: bytes) -> tuple[Any, dict[str, Any]]:
    """The JSON object and version check every Gamsi message shares: (kind, fields)."""
    try:
        body = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise DecodeError(f"not JSON: {exc}") from None
    if not isinstance(body, dict):
        raise DecodeError(f"expected a JSON object, got {type(body).__name__}")
    version = body.pop("v", None)
    if not isinstance(version, int) or isinstance(version, bool):
        raise DecodeError("missing or non-integer schema version 'v'")
    if version > SCHEMA_VERSION or version < 1:
        raise DecodeError(
            f"schema version {version} is not supported (this reader: 1..{SCHEMA_VERSION})"
        )
    return body.pop("kind", None), body


def decode(data: bytes, *, columns: bool = False) -> Record:
    """The record in ``data``, its types and ranges checked (:mod:`gamsi.schemas.validate`).

    With ``columns`` a metric batch's ``samples`` is a :class:`SampleColumns` (checked the
    same way, its Sample objects made only when read one by one), otherwise a list.
    Raises :class:`DecodeError` (and nothing else) for any bytes that are not a valid
    record; the message is one bounded line naming the field and what was expected."""
    kind, body = read_envelope(data)
    if not isinstance(kind, str) or kind not in RECORD_TYPES:
        raise DecodeError(
            f"unknown kind {describe(kind)}; expected one of {', '.join(sorted(RECORD_TYPES))}"
        )
    if kind == MetricBatch.kind:
        return check_batch_header(_metric_batch(body, columns, data))
    return CHECKS[kind](_plain(RECORD_TYPES[kind], body))


def decode_metric_batch(data: bytes, *, columns: bool = False) -> MetricBatch:
    """The metric batch in ``data`` (see :func:`decode`); DecodeError for anything else.

    ``columns``: its samples as a :class:`SampleColumns`, for a reader that looks up items
    (the stream worker) rather than keeping every Sample (the history writer)."""
    record = decode(data, columns=columns)
    if not isinstance(record, MetricBatch):
        raise DecodeError(f"expected a metric_batch, got {record.kind}")
    return record


def decode_severity_event(data: bytes) -> SeverityEvent:
    record = decode(data)
    if not isinstance(record, SeverityEvent):
        raise DecodeError(f"expected a severity_event, got {record.kind}")
    return record


def _number(value: Any, where: str) -> float:
    return float(check_finite(value, where))


def _string(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise DecodeError(f"{where}: expected a string, got {describe(value)}")
    return value


def _metric_batch(body: dict[str, Any], columns: bool, data: bytes) -> MetricBatch:
    host = _string(body.get("host"), "host")
    if not host:
        raise DecodeError("host: must not be empty")
    ts = _number(body.get("ts"), "ts")
    raw_samples = body.get("samples")
    if not isinstance(raw_samples, list):
        raise DecodeError(f"samples: expected a list, got {describe(raw_samples)}")
    items, values, instances = fast_columns(raw_samples, data) or _checked_columns(raw_samples)
    if columns:
        samples: Sequence[Sample] = SampleColumns(items, values, instances)
    else:
        samples = list(map(Sample, items, values, instances))
    tags = body.get("tags", [])
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise DecodeError(f"tags: expected a list of strings, got {describe(tags)}")
    seq = body.get("seq", 0)
    if not isinstance(seq, int) or isinstance(seq, bool):
        raise DecodeError(f"seq: expected an integer, got {describe(seq)}")
    return MetricBatch(
        host=host,
        ts=ts,
        samples=samples,  # type: ignore[arg-type]  # a SampleColumns is a Sequence[Sample]
        seq=seq,
        interval=_number(body.get("interval", 0.0), "interval"),
        os=_string(body.get("os", ""), "os"),
        tags=tags,
        run=_string(body.get("run", ""), "run"),
    )


def _checked_columns(raw_samples: list[Any]) -> Columns:
    """The columns of ``samples`` checked one sample at a time: DecodeError naming the first
    bad sample and what was expected (the rules :func:`fast_columns` checks in bulk)."""
    items: list[str] = []
    values: list[float] = []
    instances: list[str] = []
    for i, s in enumerate(raw_samples):
        if not isinstance(s, dict):
            raise DecodeError(f"samples[{i}]: expected an object, got {describe(s)}")
        item = s.get("item")
        if not isinstance(item, str) or not item:
            raise DecodeError(
                f"samples[{i}].item: expected a non-empty string, got {describe(item)}"
            )
        instance = s.get("instance", "")
        if not isinstance(instance, str):
            raise DecodeError(f"samples[{i}].instance: expected a string, got {describe(instance)}")
        check_name(item, f"samples[{i}].item")  # no control characters, as check_batch
        check_name(instance, f"samples[{i}].instance")
        values.append(_number(s.get("value"), f"samples[{i}].value"))
        items.append(item)
        instances.append(instance)
    return items, values, instances


def _plain(cls: type, body: dict[str, Any]) -> Any:
    """A flat record: every field checked against its declared type, so a bad value is
    rejected here (and dead-lettered) rather than failing later in an insert or a rule."""
    names = {f.name: f for f in fields(cls)}
    unknown = sorted(set(body) - set(names))
    if unknown:
        shown = ", ".join(describe(name, 30) for name in unknown[:5])
        more = f" and {len(unknown) - 5} more" if len(unknown) > 5 else ""
        raise DecodeError(f"{cls.kind}: unknown fields {shown}{more}")
    values = {}
    for name, f in names.items():
        if name not in body:
            if f.default is MISSING and f.default_factory is MISSING:
                raise DecodeError(f"{cls.kind}: missing field {name!r}")
            continue
        value, where, kind = body[name], f"{cls.kind}.{name}", str(f.type)
        if kind == "float":
            value = _number(value, where)
        elif kind == "int":
            if isinstance(value, bool) or not isinstance(value, int):
                raise DecodeError(f"{where}: expected an integer, got {describe(value)}")
        elif kind == "str":
            value = _string(value, where)
        elif not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise DecodeError(f"{where}: expected a list of strings, got {describe(value)}")
        values[name] = value
    return cls(**values)


def json_schema(cls: type) -> dict[str, Any]:
    """A JSON Schema of a record, built from its field metadata (units and meanings)."""
    props: dict[str, Any] = {
        "v": {"type": "integer", "const": SCHEMA_VERSION, "description": "Schema version."},
        "kind": {"type": "string", "const": cls.kind},
    }
    py_to_json = {"str": "string", "float": "number", "int": "integer"}
    for f in fields(cls):
        t = str(f.type)
        if t.startswith("list"):
            entry: dict[str, Any] = {"type": "array"}
            if "Sample" in t:
                entry["items"] = json_schema_sample()
            else:
                entry["items"] = {"type": "string"}
        else:
            entry = {"type": py_to_json.get(t, "string")}
        entry["description"] = f.metadata.get("description", "")
        if f.metadata.get("unit"):
            entry["unit"] = f.metadata["unit"]
        props[f.name] = entry
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": cls.__name__,
        "description": (cls.__doc__ or "").strip(),
        "type": "object",
        "properties": props,
        "required": ["v", "kind"],
    }


def json_schema_sample() -> dict[str, Any]:
    props = {}
    for f in fields(Sample):
        props[f.name] = {
            "type": "number" if f.name == "value" else "string",
            "description": f.metadata["description"],
        }
    return {"type": "object", "properties": props, "required": ["item", "value"]}
