"""Named state: the changelog form, reading version 1 records, and its size."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import orjson
import pytest

from gamsi.schemas.records import MetricBatch
from gamsi.streams import state as host_state
from gamsi.streams.engine import Engine
from gamsi.streams.policy.parse import policy_from_plain

FIXTURES = Path(__file__).with_name("fixtures")


def _fixture() -> tuple[dict, object]:
    spec = importlib.util.spec_from_file_location("make_state_v1", FIXTURES / "make_state_v1.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return orjson.loads((FIXTURES / "state_v1.json").read_bytes()), module


def test_a_version_1_changelog_record_is_restored_and_judged_on():
    fixture, timeline = _fixture()
    record = orjson.loads(fixture["record"])
    engine = Engine(policy_from_plain(fixture["policy"], "fixture"))
    state = record["s"]  # the value as streams/app.py stored it: {"p": partition, "s": state}
    steps, _ = timeline.timeline()
    got = []
    for kind, x in steps[40:]:  # the record was written after the 20th batch and tick
        if kind == "b":
            batch = MetricBatch("db-7", 1000.0 + 10 * x, timeline.samples(x), x, 10.0, "linux")
            batch.tags = ["prod"]
            state, out = engine.process(state, batch)
        else:
            state, out = engine.tick(state, "db-7", x)
        got += [
            [e.event_id, e.watch, e.item, e.instance, e.transition, e.severity, e.ts] for e in out
        ]
    # what version 1 produced, plus the one rule added since: nginx, missing from the
    # batches since t=1130, is closed as gone (t=1200) and raised again when it is back
    gone = [e for e in got if e[1] == "proc" and e[3] == "nginx"]
    assert [(e[4], e[6]) for e in gone] == [("recover", 1200.0), ("raise", 1310.0)]
    assert [e for e in got if e not in gone] == fixture["after"]
    # an open problem restored from version 1 learns its item from the watch in force
    assert state.series["disk-count\t/var"].open[0] == "disk.used_pct"


def test_the_changelog_form_is_no_larger_than_version_1():
    fixture, _ = _fixture()
    v1 = orjson.loads(fixture["record"])["s"]
    v2 = orjson.dumps(host_state.load(v1), default=host_state.default)
    assert len(v2) <= len(orjson.dumps(v1))
    assert orjson.loads(v2)[0] == host_state.STATE_VERSION


def test_the_changelog_form_round_trips_every_field():
    fixture, _ = _fixture()
    state = host_state.load(orjson.loads(fixture["record"])["s"])
    state.run, state.past, state.tick, state.resumed = "a1b2", {"0f0f": 41}, 5190.0, 1000.0
    state.series["mem\t"].open = ["memory.used_pct", 95.0, 90.0]
    once = orjson.dumps(state, default=host_state.default)
    again = orjson.dumps(host_state.load(orjson.loads(once)), default=host_state.default)
    assert again == once
    back = host_state.load(orjson.loads(once))
    assert (back.run, back.past, back.tick) == ("a1b2", {"0f0f": 41}, 5190.0)
    mem = back.series["mem\t"]
    assert (mem.sev, mem.since, mem.open) == (4, 1100.0, ["memory.used_pct", 95.0, 90.0])
    nd = back.series["proc\tnginx"].nd
    assert (nd.mark, nd.arrival, nd.active, nd.since) == (1130.0, 5130.0, 2, 5170.0)


@pytest.mark.parametrize(
    "raw", [None, {"v": 99}, {"v": 1, "ts": "x"}, [], [2, "bad"], "text", 7, [3, 0.0]]
)
def test_an_unreadable_record_gives_a_fresh_state_never_an_error(raw):
    state = host_state.load(raw)
    assert state.series == {}
    assert state.seq == -1
