"""Property-based invariants of the rule engine, over random watches and value series."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from gamsi.schemas.records import Sample
from gamsi.streams.policy.parse import policy_from_plain
from gamsi.streams.rules.threshold import Thresholds
from tests.unit.streams.timeline import Feeder, make_engine

LEVEL_NAMES = ("harmless", "caution", "danger", "urgent", "fatal")


@st.composite
def watches(draw: Any) -> dict[str, Any]:
    names = draw(st.lists(st.sampled_from(LEVEL_NAMES), min_size=1, max_size=5, unique=True))
    names.sort(key=LEVEL_NAMES.index)
    thresholds = sorted(
        draw(st.lists(st.integers(20, 95), min_size=len(names), max_size=len(names), unique=True))
    )
    op = draw(st.sampled_from([">", ">="]))
    watch: dict[str, Any] = {
        "name": "w",
        "item": "x",
        "levels": {n: f"{op} {t}" for n, t in zip(names, thresholds, strict=True)},
        "hysteresis": draw(st.sampled_from([0, 2, 5])),
        "clear": draw(st.sampled_from([0, 15, 40])),
        "count": draw(st.integers(1, 3)),
    }
    mode = draw(st.sampled_from(["runs", "window", "aggregate"]))
    if mode == "runs":
        watch["duration"] = draw(st.sampled_from([0, 10, 30]))
    else:
        watch["window"] = draw(st.sampled_from([20, 60]))
    if mode == "aggregate":
        watch["aggregate"] = draw(st.sampled_from(["avg", "min", "max"]))
        watch["duration"] = draw(st.sampled_from([0, 10]))
    return watch


series = st.lists(
    st.tuples(st.integers(1, 15), st.floats(0, 100, allow_nan=False)), min_size=1, max_size=60
)


def run(
    watch: dict[str, Any], steps: list[tuple[int, float]], tail: bool
) -> tuple[Feeder, list[float]]:
    f = Feeder(make_engine(watch), interval=15.0)
    t = 1000.0
    times = []
    for dt, v in steps:
        t += dt
        times.append(t)
        f.push(t, [Sample("x", v)])
    if tail:  # values well inside normal for longer than any window, duration and clear
        for _ in range(20):
            t += 10
            times.append(t)
            f.push(t, [Sample("x", 0.0)])
    return f, times


@settings(max_examples=300, deadline=None)
@given(watches(), series)
def test_every_raise_is_followed_by_a_recovery_once_values_stay_normal(watch, steps):
    f, _ = run(watch, steps, tail=True)
    if f.events:
        assert f.events[-1].transition == "recover"
    assert all(s.sev == 0 for s in f.named.series.values())


@settings(max_examples=300, deadline=None)
@given(watches(), series)
def test_transitions_form_a_consistent_chain_each_justified_by_a_sample(watch, steps):
    f, times = run(watch, steps, tail=False)
    previous = 0
    seen = set()
    for e in f.events:
        assert e.previous == previous
        assert e.severity != e.previous
        up = e.severity > e.previous
        from_or_to_normal = (e.previous if up else e.severity) == 0
        names = {(True, True): "raise", (True, False): "escalate"}
        names |= {(False, True): "recover", (False, False): "deescalate"}
        assert e.transition == names[(up, from_or_to_normal)]
        assert e.ts in times  # no transition without a sample at that event time
        assert e.ts not in seen  # at most one transition per sample
        seen.add(e.ts)
        previous = e.severity


@settings(max_examples=300, deadline=None)
@given(watches(), series)
def test_without_aggregates_each_transition_is_on_the_right_side_of_its_threshold(watch, steps):
    if watch.pop("aggregate", None):
        del watch["window"]  # judge raw values; counting windows keep their window
    f, _ = run(watch, steps, tail=False)
    w = policy_from_plain({"watches": [watch]}).watches[0]
    thresholds = Thresholds(w)
    for e in f.events:
        raised, held = thresholds.classify(e.value)
        if e.severity > e.previous:
            if not w.window:
                assert raised >= e.severity  # the value itself breaches the new level
        elif not w.window:
            assert held == e.severity  # the value has crossed back over the recovery threshold


@settings(max_examples=100, deadline=None)
@given(watches(), series)
def test_replaying_the_same_batches_gives_the_same_event_ids(watch, steps):
    first, _ = run(watch, steps, tail=True)
    again, _ = run(watch, steps, tail=True)
    assert [e.event_id for e in first.events] == [e.event_id for e in again.events]
