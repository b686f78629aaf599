"""A raised series that stops arriving while its host's batches go on closes as gone."""

from __future__ import annotations

from gamsi.schemas.records import Sample
from gamsi.streams.engine import Engine
from gamsi.streams.policy import load_policy
from tests.unit.streams.timeline import Feeder, make_engine


def disks(t: float, **used: float) -> list[Sample]:
    return [Sample("disk.used_pct", v, m.replace("_", "/")) for m, v in used.items()]


def test_an_unmounted_disk_closes_its_problem_as_gone():
    f = Feeder(Engine(load_policy(None, "linux")))
    for t in (0.0, 10.0):
        f.push(
            t, [Sample("disk.used_pct", 40.0, "/"), Sample("disk.used_pct", 98.0, "/mnt/backup")]
        )
    (raised,) = f.events
    assert (raised.instance, raised.transition, raised.severity) == ("/mnt/backup", "raise", 4)
    got = []
    for i in range(2, 40):  # the backup disk is unmounted; the host goes on reporting "/"
        got += f.push(10.0 * i, [Sample("disk.used_pct", 40.0, "/")])
    (gone,) = got  # one event, then silence: no problem left open for ever
    assert (gone.host, gone.watch, gone.item, gone.instance) == (
        "web-1",
        "disk-space",
        "disk.used_pct",
        "/mnt/backup",
    )
    assert (gone.transition, gone.severity, gone.previous) == ("recover", 0, 4)
    assert (gone.value, gone.threshold) == (98.0, 97.0)
    assert gone.ts == 70.0  # last seen at 10; more than 5 intervals (50 s) missing at 70
    assert "instance gone" in gone.message
    assert "disk-space\t/mnt/backup" not in f.named.series


def test_a_vanished_process_with_a_nodata_watch_closes_its_value_problem_only():
    watch = {
        "name": "nginx", "item": "proc.up", "instance": "nginx", "levels": {"danger": "< 1"},
        "nodata": {"after": "60s", "severity": "caution"},
    }  # fmt: skip
    f = Feeder(make_engine(watch))
    f.push(0.0, [Sample("proc.up", 0.0, "nginx")])
    f.tick(0.0)
    for i in range(1, 10):
        f.push(10.0 * i, [Sample("cpu.util", 5.0)])
        f.ticks(10.0 * i - 5, 10.0 * i)
    assert [(e.watch, e.transition, e.ts) for e in f.events] == [
        ("nginx", "raise", 0.0),
        ("nginx", "recover", 60.0),  # gone: more than 50 s missing
        ("nginx/nodata", "raise", 60.0),  # and its absence is what no-data is for
    ]
    assert f.events[1].item == "proc.up"


def test_a_host_back_from_silence_is_given_the_bound_again():
    f = Feeder(make_engine({"name": "d", "item": "disk.used_pct", "levels": {"urgent": ">= 95"}}))
    f.push(0.0, [Sample("disk.used_pct", 99.0, "/data")])
    # the whole host is away for 10 minutes; its first batches lack the mount (slow input)
    assert f.push(600.0, [Sample("cpu.util", 1.0)]) == []
    assert f.push(610.0, [Sample("cpu.util", 1.0)]) == []
    got = []
    for t in range(620, 700, 10):
        got += f.push(float(t), [Sample("cpu.util", 1.0)])
    assert [(e.instance, e.transition, e.ts) for e in got] == [("/data", "recover", 660.0)]


def test_series_that_stop_arriving_are_forgotten_so_state_stays_bounded():
    f = Feeder(
        make_engine({"name": "n", "item": "net.rx_errors_per_s", "levels": {"danger": "> 9"}})
    )
    for i in range(100):  # a container host: every minute a new veth NIC, the old one gone
        f.push(10.0 * i, [Sample("net.rx_errors_per_s", 0.0, f"veth{i // 6}")])
    assert len(f.named.series) <= 2
