"""Stream processors: an entry-point processor is usable in policies; disk_full's timeline.

Registry rules (one processor per module, duplicates refused, entry points) are
tested for every kind of plugin in tests/unit/test_plugins.py.
"""

from __future__ import annotations

from importlib.metadata import EntryPoint

import pytest

from gamsi.streams.policy.values import Reader
from gamsi.streams.rules.registry import REGISTRY, StreamProcessor, load_processors, register


class Rate(StreamProcessor):
    """What a third-party package writes: one class and one entry point."""

    input = "net.rx_bits_per_s"
    output = "net.rx_bits_rate"

    def derive(self, state, ts, value):
        return [ts, value], None if state is None else (value - state[1]) / (ts - state[0])


def test_entry_points_add_processors_that_policies_can_name():
    from gamsi.streams.policy.parse import policy_from_plain

    with REGISTRY.scoped():
        load_processors()
        register("rate_test")(Rate)  # what importing the plugin's module does
        REGISTRY.load_entry_points([EntryPoint("rate_test", f"{__name__}:Rate", REGISTRY.group)])
        assert load_processors()["rate_test"] is Rate
        policy = policy_from_plain({"processors": {"rate_test": {}}, "watches": []})
        assert policy.processors == {"rate_test": {}}
    assert "rate_test" not in load_processors()


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
