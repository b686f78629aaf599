"""Fuzz: random policies and random (schema-valid but hostile) batches and ticks through the
engine. Nothing escapes but a refusal with a reason (which the worker dead-letters)."""

from __future__ import annotations

from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from gamsi.schemas.records import MetricBatch, Sample
from gamsi.streams import state as host_state
from gamsi.streams.engine import Engine
from gamsi.streams.ordering import Refused
from tests.unit.streams.rules.test_policy_properties import policy
from tests.unit.streams.timeline import make_engine

times = st.one_of(
    st.floats(-1e300, 1e300, allow_nan=False, allow_infinity=False),
    st.floats(1e9, 1e9 + 3600),
    st.sampled_from([0.0, -1.0, 1e15, 1e300, -1e300]),
)
samples = st.lists(
    st.builds(
        Sample,
        st.sampled_from(["x", "y", "agent.heartbeat", "disk.used_pct"]),
        st.floats(allow_nan=False, allow_infinity=False),
        st.sampled_from(["", "/", "eth0", "a" * 300]),
    ),
    max_size=8,
)
batches = st.builds(
    MetricBatch,
    host=st.just("h"),
    ts=times,
    samples=samples,
    seq=st.one_of(st.integers(-5, 50), st.integers(-(2**63), 2**63 - 1)),
    interval=st.sampled_from([0.0, 1.0, 10.0, 1e-9, 1e300]),
    os=st.sampled_from(["linux", "", "windows"]),
    tags=st.lists(st.sampled_from(["a", "b"]), max_size=2),
    run=st.sampled_from(["", "r1", "r2", "r3"]),
)
steps = st.lists(st.one_of(batches, times), max_size=25)


@settings(max_examples=300, deadline=None)
@given(policy(), policy(), steps, st.integers(0, 25), st.booleans())
def test_random_policies_batches_and_ticks_never_raise(a: Any, b: Any, seq, switch, save) -> None:
    engine = make_engine(*a)
    state: Any = None
    refusals: list[str] = []
    for i, step in enumerate(seq):
        if i == switch:
            engine = Engine(make_engine(*b).policy, previous=engine)
        try:
            if isinstance(step, MetricBatch):
                state, _ = engine.process(state, step)
            else:
                state, _ = engine.tick(state, "h", step)
        except Refused as exc:
            refusals.append(str(exc))
        if save and state is not None:  # through the changelog, as after a restart
            state = orjson.loads(orjson.dumps(state, default=host_state.default))
    assert all(refusals)  # each refusal says why
