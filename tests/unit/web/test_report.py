"""The report arithmetic without ClickHouse: steps from event rows, a server's worst level."""

from __future__ import annotations

import itertools
import random

from gamsi.web.report import Step, _durations, _worst_of, steps


def _naive_worst(series: list[Step], t: float) -> int:
    level = 0
    for s in series:
        at = 0
        for when, lv in s.changes:
            if when <= t:
                at = lv
        level = max(level, at)
    return level


def test_worst_of_equals_the_worst_series_at_every_instant() -> None:
    rnd = random.Random(3)
    for _ in range(200):
        series = []
        for _ in range(rnd.randint(1, 5)):
            times = sorted({0.0, *(float(rnd.randint(1, 50)) for _ in range(rnd.randint(0, 8)))})
            series.append(Step([(t, rnd.randint(0, 5)) for t in times]))
        worst = _worst_of(series)
        for t in [x / 2 for x in range(0, 102)]:
            got = 0
            for when, lv in worst:
                if when <= t:
                    got = lv
            assert got == _naive_worst(series, t), (series, t)
        assert all(a[1] != b[1] for a, b in itertools.pairwise(worst))


def test_steps_time_per_level_and_problems() -> None:
    # [host, item, instance, watch, t_ms, severity, previous, transition, since_ms]
    rows = [
        ["h", "cpu", "", "w", 40_000, 3, 0, "before", 40_000],  # danger since t=40 s
        ["h", "cpu", "", "w", 120_000, 5, 3, "escalate", 40_000],
        ["h", "cpu", "", "w", 150_000, 0, 5, "recover", 0],
        ["h", "mem", "", "m", 10_000, 0, 2, "before", 0],  # recovered before: normal, unlisted
    ]
    st = steps(rows, 100.0, 200.0)
    assert list(st) == [("h", "cpu", "", "w")]
    s = st[("h", "cpu", "", "w")]
    assert _durations(s.changes, 200.0) == [50.0, 0.0, 0.0, 20.0, 0.0, 30.0]
    assert s.problems == [110.0]  # from 40 s (before the period) to 150 s
    assert (s.events, s.raises) == (2, 0)
