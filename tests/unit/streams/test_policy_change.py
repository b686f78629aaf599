"""Policy changes while a watch is raised: checked for meaning, never a crash, never a ghost."""

from __future__ import annotations

from pathlib import Path

from gamsi.schemas.records import Sample
from gamsi.streams.engine import Engine
from gamsi.streams.policy import load_policy
from tests.unit.streams.timeline import Feeder, make_engine

EXAMPLES = Path(__file__).resolve().parents[3] / "examples" / "policies"
MEM = {"name": "mem", "item": "memory.used_pct", "levels": {"caution": ">= 90"}}


def mem(f: Feeder, t: float, v: float) -> list[tuple]:
    return [
        (e.watch, e.item, e.transition, e.severity, e.value, e.threshold)
        for e in f.push(t, [Sample("memory.used_pct", v)])
    ]


def test_a_level_renamed_while_raised_closes_the_problem_instead_of_crashing():
    f = Feeder(make_engine(MEM))
    assert mem(f, 0.0, 95.0) == [("mem", "memory.used_pct", "raise", 2, 95.0, 90.0)]
    old = f.engine
    f.engine = Engine(make_engine({**MEM, "levels": {"danger": ">= 90"}}).policy, previous=old)
    # used to raise KeyError on every batch of the host, and kill the worker
    assert mem(f, 10.0, 50.0) == [("mem", "memory.used_pct", "recover", 0, 95.0, 90.0)]
    assert mem(f, 20.0, 95.0) == [("mem", "memory.used_pct", "raise", 3, 95.0, 90.0)]


def test_the_same_after_a_worker_restart_when_the_old_policy_is_unknown():
    f = Feeder(make_engine(MEM))
    mem(f, 0.0, 95.0)
    f.engine = make_engine({**MEM, "levels": {"danger": ">= 90"}})
    assert mem(f, 10.0, 50.0) == [("mem", "memory.used_pct", "recover", 0, 95.0, 90.0)]


def test_a_flipped_direction_or_a_new_aggregate_is_a_new_problem():
    for change in ({"levels": {"caution": "<= 10"}}, {"window": "60s", "aggregate": "max"}):
        f = Feeder(make_engine(MEM))
        mem(f, 0.0, 95.0)
        f.engine = Engine(make_engine({**MEM, **change}).policy, previous=f.engine)
        got = mem(f, 10.0, 95.0)
        assert got[0] == ("mem", "memory.used_pct", "recover", 0, 95.0, 90.0), change


def test_a_lowered_threshold_keeps_the_problem_and_judges_on_with_the_new_one():
    f = Feeder(make_engine(MEM))
    mem(f, 0.0, 95.0)
    f.engine = Engine(
        make_engine({**MEM, "levels": {"caution": ">= 80"}}).policy, previous=f.engine
    )
    assert mem(f, 10.0, 85.0) == []  # still a caution under the new threshold: no churn
    assert mem(f, 20.0, 50.0) == [("mem", "memory.used_pct", "recover", 0, 50.0, 80.0)]


def test_the_demo_watch_removed_by_the_defaults_is_closed_under_its_own_name():
    f = Feeder(Engine(load_policy(EXAMPLES / "cpu-spike.yaml", "linux")))
    (raised,) = f.push(0.0, [Sample("cpu.util", 97.0)])
    assert (raised.watch, raised.severity) == ("cpu-spike", 4)
    f.engine = Engine(load_policy(EXAMPLES / "defaults.yaml", "linux"), previous=f.engine)
    (closed,) = f.push(10.0, [Sample("cpu.util", 97.0)])
    # it used to carry an empty item, value 0 and threshold 0, and never closed the problem
    assert (closed.host, closed.watch, closed.item, closed.instance) == (
        "web-1",
        "cpu-spike",
        "cpu.util",
        "",
    )
    assert (closed.transition, closed.previous, closed.value, closed.threshold) == (
        "recover",
        4,
        97.0,
        90.0,
    )
    assert "no longer applies" in closed.message


def test_a_nodata_problem_of_a_removed_watch_is_closed_with_its_identity():
    silent = {"name": "nginx", "item": "proc.up", "nodata": {"after": "30s", "severity": "danger"}}
    f = Feeder(make_engine(silent))
    f.push(0.0, [Sample("proc.up", 1.0, "nginx")])
    f.ticks(0.0, 30.0)
    assert [e.watch for e in f.events] == ["nginx/nodata"]
    f.engine = Engine(make_engine(MEM).policy, previous=f.engine)
    (closed,) = f.push(40.0, [Sample("memory.used_pct", 10.0)])
    assert (closed.watch, closed.item, closed.instance, closed.transition) == (
        "nginx/nodata",
        "proc.up",
        "nginx",
        "recover",
    )


def test_a_new_threshold_on_an_average_judges_the_values_already_in_the_window():
    cpu = {"name": "cpu", "item": "cpu.util", "window": "60s", "aggregate": "avg",
           "levels": {"danger": ">= 95"}}  # fmt: skip
    f = Feeder(make_engine(cpu))
    for i in range(10):
        f.push(10.0 * i, [Sample("cpu.util", 90.0)])
    assert f.events == []
    f.engine = Engine(make_engine({**cpu, "levels": {"danger": ">= 85"}}).policy, previous=f.engine)
    # the window already covers 60 s of 90 %: the lowered threshold speaks at once
    (e,) = f.push(100.0, [Sample("cpu.util", 90.0)])
    assert (e.transition, e.severity, e.value, e.threshold) == ("raise", 3, 90.0, 85.0)
