"""Gamsi's codec in Faust's codec registry, so Faust topics use the same bytes.

Importing faust is confined to this module: the records and the codec stay
usable by the collector and the pure rule engine without it.
"""

from __future__ import annotations

from typing import Any

from faust.serializers import codecs
from gamsi.schemas.codec import decode, encode

CODEC_NAME = "gamsi"


class GamsiCodec(codecs.Codec):
    """orjson with Gamsi's version field; decoding validates (see gamsi.schemas.codec)."""

    def _dumps(self, obj: Any) -> bytes:
        return encode(obj)

    def _loads(self, s: bytes) -> Any:
        return decode(s)


def register() -> str:
    """Register once (idempotent) and return the name to use as a topic serializer."""
    if CODEC_NAME not in codecs.codecs:
        codecs.register(CODEC_NAME, GamsiCodec())
    return CODEC_NAME
