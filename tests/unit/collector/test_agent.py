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


class FlakyPublisher:
    """Refuses the first ``failures`` batches, then takes every one."""

    def __init__(self, failures: int) -> None:
        self.failures = failures

    async def publish(self, key: bytes, value: bytes) -> None:
        from gamsi.collector.publisher import PublishError

        if self.failures:
            self.failures -= 1
            raise PublishError("Kafka at 127.0.0.1:1 did not acknowledge within 5 s")

    async def close(self) -> None:
        pass


async def test_an_outage_logs_one_line_when_it_starts_and_one_when_it_ends(
    settings: Settings, linux: ReplayStats, caplog: pytest.LogCaptureFixture
) -> None:
    agent = Agent(settings, stats=linux, publisher=FlakyPublisher(50))  # type: ignore[arg-type]
    agent.spool.append(b"web-1", b"from a previous run")  # a spool left over is no excuse
    with caplog.at_level("INFO", logger="gamsi.collector.agent"):
        results = [await agent._deliver(b"web-1", b"batch") for _ in range(52)]
    assert results == [False] * 50 + [True, True]
    lines = [r.getMessage() for r in caplog.records if r.name == "gamsi.collector.agent"]
    assert len(lines) == 2, lines
    assert lines[0].startswith("Kafka at 127.0.0.1:1 did not acknowledge within 5 s; spooling")
    assert lines[1].startswith("Kafka takes batches again after ")
