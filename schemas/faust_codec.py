"""Gamsi's codec in Faust's codec registry, so Faust topics use the same bytes.

Importing faust is confined to this module: the records and the codec stay
usable by the collector and the pure rule engine without it.
"""

from __future__ import annotations

from typing import Any

import orjson
from faust.serializers import codecs

from gamsi.schemas.codec import decode, encode

CODEC_NAME = "gamsi"
STATE_CODEC_NAME = "gamsi-state"


class GamsiCodec(codecs.Codec):
    """orjson with Gamsi's version field; decoding validates (see gamsi.schemas.codec)."""

    def _dumps(self, obj: Any) -> bytes:
        return encode(obj)

    def _loads(self, s: bytes) -> Any:
        return decode(s)


class StateCodec(codecs.Codec):
    """Plain orjson for table keys and values (rule state is plain dicts, not records)."""

    def _dumps(self, obj: Any) -> bytes:
        return orjson.dumps(obj)

    def _loads(self, s: bytes) -> Any:
        return orjson.loads(s)


def register() -> str:
    """Register both codecs once (idempotent); returns the record codec's name."""
    if CODEC_NAME not in codecs.codecs:
        codecs.register(CODEC_NAME, GamsiCodec())
    if STATE_CODEC_NAME not in codecs.codecs:
        codecs.register(STATE_CODEC_NAME, StateCodec())
    return CODEC_NAME
