"""Wire records (metric batch, severity event, dead letter) and the orjson codec."""

from gamsi.schemas.codec import DecodeError, decode, encode
from gamsi.schemas.records import (
    SCHEMA_VERSION,
    DeadLetter,
    MetricBatch,
    Sample,
    Severity,
    SeverityEvent,
)

__all__ = [
    "SCHEMA_VERSION",
    "DeadLetter",
    "DecodeError",
    "MetricBatch",
    "Sample",
    "Severity",
    "SeverityEvent",
    "decode",
    "encode",
]
