"""Stream processor plugins: one registration per module, duplicates refused, entry points."""

from __future__ import annotations

import importlib
import pkgutil
from importlib.metadata import EntryPoint

import pytest

import gamsi.streams.rules.processors as builtins
from gamsi.streams.policy.values import Reader
from gamsi.streams.rules import registry
from gamsi.streams.rules.registry import (
    DuplicatePluginError,
    StreamProcessor,
    load_processors,
    register_processor,
)


def test_every_builtin_module_registers_exactly_one_processor():
    load_processors()
    for info in pkgutil.iter_modules(builtins.__path__):
        module = importlib.import_module(f"{builtins.__name__}.{info.name}")
        mine = [cls for cls in registry.PROCESSORS.values() if cls.__module__ == module.__name__]
        assert len(mine) == 1, f"{module.__name__} registers {len(mine)} processors"


def test_a_duplicate_name_is_refused(monkeypatch):
    monkeypatch.setattr(registry, "PROCESSORS", dict(registry.PROCESSORS))

    class Clash(StreamProcessor):
        name = "disk_full"
        input = "disk.used_pct"
        output = "x"

    with pytest.raises(DuplicatePluginError, match="'disk_full' is registered twice"):
        register_processor(Clash)


class Rate(StreamProcessor):
    """What a third-party package writes: one class and one entry point."""

    name = "rate_test"
    input = "net.rx_bits_per_s"
    output = "net.rx_bits_rate"

    def derive(self, state, ts, value):
        return [ts, value], None if state is None else (value - state[1]) / (ts - state[0])


def test_entry_points_add_processors_that_policies_can_name(monkeypatch):
    from gamsi.streams.policy.parse import policy_from_plain

    monkeypatch.setattr(registry, "PROCESSORS", dict(registry.PROCESSORS))
    monkeypatch.setattr(registry, "_loaded", False)
    ep = EntryPoint("rate_test", f"{__name__}:Rate", registry.ENTRY_POINT_GROUP)
    monkeypatch.setattr(registry, "entry_points", lambda group: [ep] if group == ep.group else [])
    assert load_processors()["rate_test"] is Rate
    policy = policy_from_plain({"processors": {"rate_test": {}}, "watches": []})
    assert policy.processors == {"rate_test": {}}


def test_processor_parameters_are_validated_with_their_path():
    cls = load_processors()["disk_full"]
    with pytest.raises(
        ValueError, match=r"processors.disk_full.min_span: expected a span no longer"
    ):
        cls(Reader("p.yaml"), {"lookback": "1h", "min_span": "2h"}, "processors.disk_full")


@pytest.mark.parametrize(
    ("points", "expected"),
    [
        ([(0, 85.0), (600, 85.0)], 8760.0),  # flat: not filling
        ([(0, 90.0), (600, 89.0)], 8760.0),  # shrinking
        ([(0, 50.0), (3600, 60.0)], 8760.0),  # below min_used_pct
        ([(0, 85.0), (300, 86.0)], 8760.0),  # too short a span to trust
        ([(0, 90.0), (3600, 95.0)], 1.0),  # +5 %/h with 5 % left
    ],
)
def test_disk_full_prediction(points, expected):
    proc = load_processors()["disk_full"](Reader("t"), {"min_span": "10m"}, "p")
    state = None
    for t, v in points:
        state, hours = proc.derive(state, float(t), v)
    assert hours == pytest.approx(expected)
