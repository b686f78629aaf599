"""A window aggregate raises or escalates only on samples that cover (nearly) the window."""

from __future__ import annotations

from gamsi.schemas.records import Sample
from gamsi.streams.engine import Engine
from gamsi.streams.policy import load_policy
from tests.unit.streams.timeline import Feeder, every, make_engine

AVG = {
    "name": "io-busy", "item": "diskio.busy_pct", "levels": {"danger": ">= 90"},
    "window": "60s", "aggregate": "avg",
}  # fmt: skip


def cpu(f: Feeder, points: list[tuple[float, float]]) -> list[tuple[float, str, int]]:
    return f.values(points, "cpu.util")


def test_one_sample_after_a_reboot_is_not_a_five_minute_average():
    f = Feeder(Engine(load_policy(None, "linux")))
    assert cpu(f, every(0, 600, 10, 20.0)) == []
    # the host reboots: nothing for 10 minutes, then CPU at 100 %
    assert cpu(f, [(1200.0, 100.0)]) == []  # shipped defaults gave DANGER here at once
    # the 5-minute window (cpu-busy, danger >= 95) speaks once 27 samples span 270 s
    assert cpu(f, every(1210, 1460, 10, 100.0)) == []
    assert cpu(f, [(1460.0, 100.0)]) == [(1460.0, "raise", 3)]


def test_a_new_host_is_not_judged_on_its_first_sample():
    f = Feeder(make_engine(AVG))
    assert f.values([(0.0, 100.0)], "diskio.busy_pct", "sda") == []
    assert f.values(every(10, 50, 10, 100.0), "diskio.busy_pct", "sda") == []
    assert f.values([(50.0, 100.0)], "diskio.busy_pct", "sda") == [(50.0, "raise", 3)]


def test_a_new_instance_waits_for_its_own_window():
    f = Feeder(make_engine(AVG))
    for t, v in every(0, 120, 10, 10.0):
        f.push(t, [Sample("diskio.busy_pct", v, "sda")])
    # sdb appears (a disk hot-plugged) already busy: its window starts with it
    both = [Sample("diskio.busy_pct", 10.0, "sda"), Sample("diskio.busy_pct", 99.0, "sdb")]
    out = [f.push(t, both) for t in (120.0, 130.0, 140.0, 150.0, 160.0, 170.0)]
    assert [[(e.instance, e.ts) for e in batch] for batch in out] == [
        [],
        [],
        [],
        [],
        [],
        [("sdb", 170.0)],
    ]


def test_a_clock_step_restarts_the_window():
    f = Feeder(make_engine(AVG))
    for t, v in every(1000, 1100, 10, 50.0):
        f.push(t, [Sample("diskio.busy_pct", v, "sda")])
    # NTP steps the collector's clock back 500 s; the disk is busy from then on
    assert f.values(every(600, 650, 10, 100.0), "diskio.busy_pct", "sda") == []
    assert f.named.steps == 1
    assert f.values([(650.0, 100.0)], "diskio.busy_pct", "sda") == [(650.0, "raise", 3)]


def test_escalation_needs_the_window_too_but_recovery_does_not():
    watch = {**AVG, "levels": {"caution": ">= 50", "danger": ">= 90"}, "clear": "20s"}
    f = Feeder(make_engine(watch))
    assert f.values(every(0, 60, 10, 60.0), "diskio.busy_pct") == [(50.0, "raise", 2)]
    # a 200 s hole (more than 3 intervals): the window restarts; 100 % must cover it again
    assert f.values(every(260, 310, 10, 100.0), "diskio.busy_pct") == []
    assert f.values([(310.0, 100.0)], "diskio.busy_pct") == [(310.0, "escalate", 3)]
    # back to idle: recovery waits only for `clear`, not for a full window of idle samples
    got = f.values(every(320, 400, 10, 0.0), "diskio.busy_pct")
    assert got[-1][1:] == ("recover", 0)
