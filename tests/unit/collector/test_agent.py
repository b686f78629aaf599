from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from gamsi.collector.agent import Agent, next_deadline
from gamsi.collector.replay import ReplayStats
from gamsi.schemas.codec import decode_metric_batch, encode
from gamsi.settings import Settings, load_settings


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    base = load_settings(environ={})
    return replace(
        base,
        paths=replace(base.paths, data_dir=str(tmp_path)),
        collector=replace(base.collector, host="web-1", tags=["web", "seoul"], interval=1.0),
    )


async def test_tick_builds_one_batch_with_host_seq_and_tags(
    settings: Settings, linux: ReplayStats
) -> None:
    agent = Agent(settings, stats=linux)
    agent.collector.open()
    try:
        first = agent.tick(linux.t)
        linux.advance()
        second = agent.tick(linux.t)
    finally:
        agent.collector.close()
    assert (first.seq, second.seq) == (0, 1)
    assert second.host == "web-1"
    assert second.tags == ["web", "seoul"]
    assert second.os == "linux"
    assert second.interval == 1.0
    assert second.ts >= first.ts
    items = {s.item for s in second.samples}
    assert {"cpu.util", "collector.spool_dropped", "collector.spool_pending"} <= items
    assert decode_metric_batch(encode(second)) == second  # the stream processor can read it


@pytest.mark.parametrize(
    ("now", "expected"),
    [(100.0, 101.0), (100.3, 101.0), (101.0, 102.0), (104.7, 105.0)],  # late ticks skip slots
)
def test_ticks_stay_on_the_grid(now: float, expected: float) -> None:
    assert next_deadline(100.0, 1.0, now) == pytest.approx(expected)
