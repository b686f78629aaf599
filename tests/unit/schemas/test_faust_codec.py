"""The codec is registered with Faust's registry and produces the same bytes."""

from __future__ import annotations

from faust.serializers import codecs

from gamsi.schemas import MetricBatch, Sample, encode
from gamsi.schemas.faust_codec import STATE_CODEC_NAME, register


def test_faust_codec_is_the_gamsi_codec() -> None:
    name = register()
    batch = MetricBatch("h", 1.0, [Sample("cpu.util", 1.0)])
    assert codecs.dumps(name, batch) == encode(batch)
    assert codecs.loads(name, encode(batch)) == batch
    assert register() == name  # idempotent


def test_state_codec_round_trips_plain_dicts() -> None:
    register()
    state = {"active": {"w|": {"severity": 4, "since": 1.5}}}
    assert codecs.loads(STATE_CODEC_NAME, codecs.dumps(STATE_CODEC_NAME, state)) == state
