"""An agent restart (a new run id) is never mistaken for a replay, whatever its clock."""

from __future__ import annotations

from gamsi.schemas.records import MetricBatch, Sample
from gamsi.streams.engine import Engine
from gamsi.streams.policy import load_policy
from tests.unit.streams.timeline import Feeder


def push(f: Feeder, run: str, seq: int, t: float, mem: float) -> list:
    batch = MetricBatch("db-1", t, [Sample("memory.used_pct", mem)], seq, 10.0, "linux", ["prod"])
    batch.run = run
    f.seq = seq
    state, events = f.engine.process(f.state, batch)
    f.state = state
    f.events += events
    return events


def test_a_restart_with_the_clock_300_s_behind_is_judged_not_dropped():
    f = Feeder(Engine(load_policy(None, "linux")), host="db-1")
    for seq in range(100):
        push(f, "a1", seq, 10_000.0 + 10 * seq, 50.0)
        f.tick(50_000.0 + 10 * seq)
    last = 10_000.0 + 990
    got = []
    for seq in range(25):  # the agent restarts: seq from 0, its clock 300 s behind; memory full
        got += push(f, "b2", seq, last - 300 + 10 * seq, 99.0)
        got += f.tick(51_000.0 + 10 * seq)
    assert f.named.late == 0  # none dropped as "late" (25 were)
    assert [e.watch for e in got if e.watch.endswith("/nodata")] == []  # no false silence
    # memory-used: urgent >= 98 sustained 2 minutes, counted from the new run's first batch
    assert [(e.watch, e.transition, e.severity, e.ts) for e in got] == [
        ("memory-used", "raise", 4, last - 300 + 120)
    ]


def test_a_spool_of_the_previous_run_replayed_after_the_restart_is_judged_in_order():
    f = Feeder(Engine(load_policy(None, "linux")), host="db-1")
    for seq in range(50):
        push(f, "a1", seq, 10_000.0 + 10 * seq, 50.0)
    # the broker was away: run a1 spooled seq 50..79 (memory climbing to full), restarted as b2,
    # and the new run delivers the spool first, each batch under its original run id
    for seq in range(50, 80):
        push(f, "a1", seq, 10_000.0 + 10 * seq, 99.0)
    for seq in range(10):
        push(f, "b2", seq, 10_800.0 + 10 * seq, 99.0)
    assert f.named.late == 0
    raised = [(e.transition, e.ts) for e in f.events]
    assert raised == [("raise", 10_000.0 + 10 * 62)]  # 2 minutes into the spooled breach
    # a redelivery of the old run's spool after the new run started is a replay, not news
    assert push(f, "a1", 79, 10_790.0, 10.0) == []
    assert push(f, "b2", 5, 10_850.0, 10.0) == []
    assert f.named.late == 2


def test_an_agent_without_a_run_id_keeps_the_old_rule():
    f = Feeder(Engine(load_policy(None, "linux")), host="db-1")
    for seq in range(5):
        push(f, "", seq, 10_000.0 + 10 * seq, 50.0)
    push(f, "", 0, 9_000.0, 50.0)
    assert f.named.late == 1
