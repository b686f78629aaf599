"""The local HTTP capture server (now public in :mod:`gamsi.testing.http`) and its fixture."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from gamsi.testing.http import CapturedRequest, HttpCapture, serve


@pytest.fixture
async def http_capture() -> AsyncIterator[HttpCapture]:
    async with HttpCapture() as server:
        yield server


__all__ = ["CapturedRequest", "HttpCapture", "http_capture", "serve"]
