"""The engine facade: event fields, state shape, instances, policy changes, processors."""

from __future__ import annotations

import ast
from pathlib import Path

import orjson

from gamsi.schemas.records import MetricBatch, Sample
from gamsi.streams import state as host_state
from gamsi.streams.engine import Engine
from gamsi.streams.policy import load_policy
from tests.unit.streams.timeline import Feeder, every, make_engine

DISK = {
    "name": "disk", "item": "disk.used_pct", "levels": {"caution": ">= 85", "urgent": ">= 95"},
    "exclude": ["/snap/*"],
}  # fmt: skip


def test_event_carries_what_a_notification_needs():
    f = Feeder(make_engine(DISK))
    (e,) = f.push(1000.0, [Sample("disk.used_pct", 96.5, "/var")], tags=["prod", "db"])
    assert (e.host, e.item, e.instance, e.watch) == ("web-1", "disk.used_pct", "/var", "disk")
    assert (e.severity, e.previous, e.transition) == (4, 0, "raise")
    assert (e.value, e.threshold, e.ts, e.since) == (96.5, 95.0, 1000.0, 1000.0)
    assert e.tags == ["prod", "db"]
    assert e.message == (
        "web-1: disk.used_pct /var = 96.5 (>= 95): URGENT 긴급, raised from NORMAL [disk]"
    )
    assert len(e.event_id) == 24


def test_each_instance_is_its_own_series_and_excluded_instances_cost_nothing():
    f = Feeder(make_engine(DISK))
    f.push(
        1000.0,
        [
            Sample("disk.used_pct", 90.0, "/"),
            Sample("disk.used_pct", 99.0, "/data"),
            Sample("disk.used_pct", 100.0, "/snap/core/1"),
            Sample("cpu.util", 100.0),
        ],
    )
    assert sorted((e.instance, e.severity) for e in f.events) == [("/", 2), ("/data", 4)]
    assert sorted(f.named.series) == ["disk\t/", "disk\t/data"]


def test_state_is_plain_json_and_survives_a_round_trip_mid_problem():
    engine = make_engine({**DISK, "duration": "30s", "clear": "20s"})
    plain, roundtrip = Feeder(engine), Feeder(engine)
    for t, v in every(0, 60, 10, 97) + every(60, 120, 10, 10):
        batch = [Sample("disk.used_pct", v, "/")]
        plain.state, _ = engine.process(
            plain.state, MetricBatch("h", t, batch, int(t), 10.0, "linux")
        )
        roundtrip.push(t, batch)
    series = 6  # position of the series in the changelog form (gamsi.streams.state.dump)
    written = orjson.loads(orjson.dumps(plain.state, default=host_state.default))
    assert written[series] == roundtrip.state[series]
    assert [e.transition for e in roundtrip.events] == ["raise", "recover"]


def test_a_policy_change_recovers_problems_of_watches_that_are_gone():
    f = Feeder(make_engine(DISK))
    f.push(1000.0, [Sample("disk.used_pct", 99.0, "/")])
    f.engine = make_engine({**DISK, "name": "disk-renamed"})
    events = f.push(1010.0, [Sample("disk.used_pct", 99.0, "/")])
    assert [(e.watch, e.transition) for e in events] == [
        ("disk", "recover"),
        ("disk-renamed", "raise"),
    ]
    assert list(f.named.series) == ["disk-renamed\t/"]


def test_a_changed_watch_keeps_nothing_that_no_longer_fits():
    f = Feeder(make_engine(DISK))
    f.push(1000.0, [Sample("disk.used_pct", 90.0, "/")])
    f.engine = make_engine({**DISK, "window": "60s", "count": 2})
    events = f.push(1010.0, [Sample("disk.used_pct", 90.0, "/")])
    assert [(e.transition, e.severity) for e in events] == [("recover", 0)]
    events = f.push(1020.0, [Sample("disk.used_pct", 90.0, "/")])
    assert [(e.transition, e.severity) for e in events] == [("raise", 2)]


def test_tags_and_os_select_watches_per_host():
    engine = make_engine(
        {**DISK, "name": "db-disk", "hosts": {"tags": ["db"]}, "levels": {"danger": ">= 50"}},
        {**DISK, "name": "win-disk", "hosts": {"os": ["windows"]}},
    )
    f = Feeder(engine)
    f.push(1000.0, [Sample("disk.used_pct", 60.0, "/")], tags=["db"])
    assert [e.watch for e in f.events] == ["db-disk"]


def test_disk_full_predictor_feeds_a_derived_item_through_the_watches():
    watch = {"name": "full-soon", "item": "disk.full_in_h", "levels": {"danger": "< 4"}}
    engine = make_engine(watch, processors={"disk_full": {"lookback": "1h", "min_span": "10m"}})
    f = Feeder(engine, interval=60.0)
    for i in range(31):  # +0.5 %/min from 85 %: full in 30 min once the fit is trusted
        f.push(60.0 * i, [Sample("disk.used_pct", 85.0 + 0.25 * i, "/data")])
    (e,) = f.events
    assert (e.item, e.instance, e.transition, e.ts) == ("disk.full_in_h", "/data", "raise", 600.0)
    assert 0.8 < e.value < 0.87  # (100 - 87.5) % at 0.25 %/min = 50 min


def test_defaults_engine_handles_a_realistic_batch():
    engine = Engine(load_policy(None, "linux"))
    samples = [
        Sample("cpu.util", 20.0),
        Sample("memory.used_pct", 99.0),
        Sample("net.rx_bits_per_s", 1e6, "eth0"),
    ]
    state, events = engine.process(None, MetricBatch("h", 1000.0, samples, 1, 10.0, "linux"))
    assert events == []  # memory needs 2 minutes above 90 %
    keys = sorted(state.series)
    assert keys == ["agent-silent\t", "cpu-busy\t", "memory-used\t"]


def test_rules_never_import_kafka_faust_or_read_the_clock():
    root = Path(__file__).resolve().parents[3] / "streams"
    files = [
        root / "engine.py",
        root / "inventory.py",
        *root.glob("rules/**/*.py"),
        # the policy's CLI and its Kafka feed are the edge, like streams/app.py
        *(p for p in root.glob("policy/*.py") if not p.stem.startswith(("cli", "feed"))),
    ]
    for file in files:
        tree = ast.parse(file.read_text())
        names = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        names |= {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
        assert not {
            m for m in names if m.split(".")[0] in {"faust", "aiokafka", "time", "datetime"}
        }, file
