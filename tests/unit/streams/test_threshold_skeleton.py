"""The walking skeleton's threshold watch, as a timeline."""

from __future__ import annotations

from gamsi.schemas import MetricBatch, Sample, Severity
from gamsi.streams.threshold import ThresholdEngine, ThresholdWatch

ENGINE = ThresholdEngine([ThresholdWatch("cpu-busy", "cpu.util", threshold=90, recovery=80)])


def _run(values: list[float]) -> list[tuple[int, str, int]]:
    state = None
    seen = []
    for t, value in enumerate(values):
        state, events = ENGINE.process(
            state, MetricBatch("h", float(t), [Sample("cpu.util", value)])
        )
        seen += [(t, e.transition, e.severity) for e in events]
    return seen


def test_raise_at_threshold_and_recover_below_recovery() -> None:
    assert _run([10, 90, 95, 85, 79, 50]) == [
        (1, "raise", Severity.URGENT),
        (4, "recover", Severity.NORMAL),
    ]


def test_hysteresis_stops_flapping_between_recovery_and_threshold() -> None:
    assert _run([91, 85, 91, 85, 91]) == [(0, "raise", Severity.URGENT)]


def test_other_items_are_ignored_and_state_is_plain() -> None:
    state, events = ENGINE.process(None, MetricBatch("h", 0.0, [Sample("memory.used_pct", 99.0)]))
    assert events == []
    assert state == {"active": {}, "last_ts": 0.0}


def test_event_ids_are_deterministic_for_replays() -> None:
    batch = MetricBatch("h", 5.0, [Sample("cpu.util", 99.0)], tags=["web"])
    (first,) = ENGINE.process(None, batch)[1]
    (again,) = ENGINE.process(None, batch)[1]
    assert first.event_id == again.event_id
    assert first.tags == ["web"]
    assert "h cpu.util is URGENT" in first.message
