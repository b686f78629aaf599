"""Property: any policy A, raised, then any policy B, then any values: never an exception,
and every problem opened is closed again once values are normal under B."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from gamsi.schemas.records import Sample
from gamsi.streams.engine import Engine
from tests.unit.streams.timeline import Feeder, make_engine

LEVELS = ("harmless", "caution", "danger", "urgent", "fatal")
ITEMS = ("x", "y")


@st.composite
def watch(draw: Any, name: str, item: str) -> dict[str, Any]:
    names = draw(st.lists(st.sampled_from(LEVELS), min_size=0, max_size=3, unique=True))
    names.sort(key=LEVELS.index)
    limits = sorted(draw(st.lists(st.integers(20, 80), min_size=len(names),
                                  max_size=len(names), unique=True)))  # fmt: skip
    up = draw(st.booleans())
    if not up:
        limits.reverse()
    op = ">=" if up else "<="
    w: dict[str, Any] = {"name": name, "item": item, "clear": draw(st.sampled_from([0, 20]))}
    if names:
        w["levels"] = {n: f"{op} {t}" for n, t in zip(names, limits, strict=True)}
        mode = draw(st.sampled_from(["runs", "window", "aggregate"]))
        if mode == "runs":
            w["duration"] = draw(st.sampled_from([0, 20]))
        else:
            w["window"] = "40s"
            if mode == "aggregate":
                w["aggregate"] = draw(st.sampled_from(["avg", "max"]))
            else:
                w["count"] = draw(st.integers(1, 2))
    if not names or draw(st.booleans()):
        w["nodata"] = {"after": "30s", "severity": draw(st.sampled_from(LEVELS))}
    return w


@st.composite
def policy(draw: Any) -> list[dict[str, Any]]:
    items = draw(st.lists(st.sampled_from(ITEMS), min_size=1, max_size=2, unique=True))
    return [draw(watch(draw(st.sampled_from(["w", "v", "u"])) + i, i)) for i in items]


values = st.lists(
    st.tuples(st.sampled_from(ITEMS), st.one_of(st.none(), st.floats(0, 100))), max_size=30
)


def normal(w: dict[str, Any]) -> float:
    levels = w.get("levels", {})
    return 1000.0 if any(v.startswith("<") for v in levels.values()) else -1000.0


@settings(max_examples=300, deadline=None)
@given(policy(), values, policy(), values, st.booleans())
def test_any_policy_change_mid_problem_never_raises_and_every_problem_closes(
    a, before, b, after, previous_known
):
    f = Feeder(make_engine(*a))
    t = 1000.0

    def step(samples: list[Sample]) -> None:
        nonlocal t
        t += 10.0
        f.push(t, samples)
        f.ticks(t - 5.0, t)

    for item, v in before:
        step([] if v is None else [Sample(item, v)])
    engine_b = make_engine(*b)
    f.engine = Engine(engine_b.policy, previous=f.engine) if previous_known else engine_b
    for item, v in after:
        step([] if v is None else [Sample(item, v)])
    for _ in range(20):  # every item B watches, normal under B, for longer than any timer
        step([Sample(w["item"], normal(w)) for w in b])
    open_problems: set[tuple[str, str, str]] = set()
    for e in f.events:
        key = (e.watch, e.item, e.instance)
        if e.transition == "raise":
            assert key not in open_problems, e
            open_problems.add(key)
        else:
            assert key in open_problems, e  # every follow-up names a problem that is open
            if e.transition == "recover":
                open_problems.discard(key)
    assert open_problems == set()
