"""Collector unit tests run the inputs against snapshots captured from real hosts."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from gamsi.collector.replay import ReplayStats
from gamsi.settings import CollectorSettings

FIXTURES = Path(__file__).parents[2] / "fixtures" / "collector"
LINUX = FIXTURES / "linux-vm.json"


@pytest.fixture
def linux() -> ReplayStats:
    return ReplayStats.load(LINUX)


@pytest.fixture
def frames(linux: ReplayStats) -> list[dict[str, Any]]:
    """A private copy of the Linux frames, for tests that edit counters."""
    return copy.deepcopy(linux.frames)


@pytest.fixture
def config() -> CollectorSettings:
    return CollectorSettings(host="test-host", tags=["web"], interval=1.0, processes=["java"])
