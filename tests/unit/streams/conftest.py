"""Fixtures of the stream tests; the helpers live in tests/unit/streams/timeline.py."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import pytest

from tests.unit.streams.timeline import Feeder, Timeline, make_engine


@pytest.fixture
def feed() -> Callable[..., Timeline]:
    """feed(watch_dict, [(t, value), ...]) → [(t, transition, severity), ...]."""

    def run(
        watch: dict[str, Any], points: Iterable[tuple[float, float]], interval: float = 10.0
    ) -> Timeline:
        return Feeder(make_engine(watch), interval=interval).values(points, watch["item"])

    return run
