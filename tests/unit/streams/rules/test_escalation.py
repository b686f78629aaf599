"""Escalation, de-escalation and recovery across several levels."""

from __future__ import annotations

from tests.unit.streams.timeline import every

LEVELS = {
    "name": "mem", "item": "memory.used_pct",
    "levels": {"caution": ">= 70", "danger": ">= 80", "urgent": ">= 90"},
}  # fmt: skip


def test_each_level_crossing_is_one_transition(feed):
    points = [(0, 50), (10, 75), (20, 95), (30, 85), (40, 72), (50, 50)]
    assert feed(LEVELS, points) == [
        (10.0, "raise", 2),
        (20.0, "escalate", 4),
        (30.0, "deescalate", 3),
        (40.0, "deescalate", 2),
        (50.0, "recover", 0),
    ]


def test_escalation_goes_straight_to_the_worst_level_that_qualifies(feed):
    watch = {**LEVELS, "duration": "20s"}
    points = every(0, 30, 10, 75) + every(30, 60, 10, 95)
    # caution after 20 s; the 95s breach danger and urgent from 30, both qualify at 50
    assert feed(watch, points) == [(20.0, "raise", 2), (50.0, "escalate", 4)]


def test_deescalation_waits_for_the_clear_duration(feed):
    watch = {**LEVELS, "clear": "20s"}
    points = [(0, 95), *every(10, 60, 10, 75)]
    # clearing from urgent starts at 10 and lasts 20 s at 30: down to caution, still held
    assert feed(watch, points) == [(0.0, "raise", 4), (30.0, "deescalate", 2)]


def test_recovery_lands_on_normal_directly_when_the_value_is_normal(feed):
    assert feed(LEVELS, [(0, 95), (10, 10)]) == [(0.0, "raise", 4), (10.0, "recover", 0)]


def test_downward_levels_escalate_as_the_value_falls(feed):
    watch = {
        "name": "free", "item": "memory.available_pct",
        "levels": {"caution": "< 20", "urgent": "<= 5"},
    }  # fmt: skip
    points = [(0, 50), (10, 15), (20, 5), (30, 30)]
    assert feed(watch, points) == [(10.0, "raise", 2), (20.0, "escalate", 4), (30.0, "recover", 0)]
