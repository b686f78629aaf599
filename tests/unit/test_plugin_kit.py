"""gamsi.testing.inputs and .processors: built-ins pass, broken plugins fail with a reason."""

from __future__ import annotations

from typing import Any

import pytest

from gamsi.collector.registry import Input
from gamsi.schemas.records import Sample
from gamsi.streams.rules.registry import REGISTRY, StreamProcessor, register
from gamsi.testing.inputs import check_samples, linux_vm, replay_input
from gamsi.testing.processors import check_processor, timeline


@pytest.mark.parametrize("name", ["cpu", "memory", "disk", "net"])
def test_builtin_inputs_replay_on_the_shipped_snapshot(name: str) -> None:
    ticks = replay_input(name, linux_vm())
    assert len(ticks) == 3
    assert ticks[-1], f"{name} reported nothing on the second and third frames"
    for samples in ticks:
        check_samples(samples)


def test_rates_appear_from_the_second_frame() -> None:
    first, second, _ = replay_input("net", linux_vm())
    assert "net.rx_bits_per_s" not in {s.item for s in first}
    assert "net.rx_bits_per_s" in {s.item for s in second}


@pytest.mark.parametrize(
    ("samples", "expected"),
    [
        ([Sample("Queue Depth", 1.0)], "expected a dotted lower-case item name"),
        ([Sample("app.depth", float("nan"))], "expected a finite float value"),
        ([Sample("app.depth", 3)], "expected a finite float value"),  # type: ignore[arg-type]
        ([Sample("app.depth", 1.0, "q"), Sample("app.depth", 2.0, "q")], "reported twice"),
        (["app.depth"], "expected Sample objects"),
    ],
)
def test_malformed_samples_fail_with_a_reason(samples: list[Any], expected: str) -> None:
    with pytest.raises(AssertionError, match=expected):
        check_samples(samples)


def test_an_input_class_replays_without_registering() -> None:
    class Uptime(Input):
        name = "test_uptime"

        def collect(self, now: float) -> list[Sample]:
            return [Sample("test.boot_time", self.stats.boot_time())]

    ticks = replay_input(Uptime, linux_vm(), ticks=2)
    assert [len(t) for t in ticks] == [1, 1]
    check_samples(ticks[0])


def test_disk_full_passes_the_processor_checks() -> None:
    points = [(t * 600.0, 90.0 + t) for t in range(8)]  # +6 %/h from 90 %
    out = check_processor("disk_full", points, {"min_span": "10m"})
    assert out[0] == (0.0, 8760.0)  # one point: not enough to trust a trend
    assert out[-1][1] == pytest.approx((100 - 97.0) / 6.0)


class _Bad(StreamProcessor):
    input = "app.depth"
    output = "app.depth_bad"

    def derive(self, state: Any, ts: float, value: float) -> tuple[Any, float | None]:
        return state, None


def test_state_that_is_not_plain_json_fails() -> None:
    class TupleState(_Bad):
        def derive(self, state: Any, ts: float, value: float) -> tuple[Any, float | None]:
            return (ts, value), None

    with REGISTRY.scoped():
        register("test_tuple_state")(TupleState)
        with pytest.raises(AssertionError, match="t=0: state changes in a JSON round trip"):
            timeline("test_tuple_state", [(0, 1.0)])


def test_a_processor_reading_hidden_state_fails() -> None:
    calls: list[int] = []

    class Hidden(_Bad):
        def derive(self, state: Any, ts: float, value: float) -> tuple[Any, float | None]:
            calls.append(1)
            return None, float(len(calls))

    with REGISTRY.scoped():
        register("test_hidden")(Hidden)
        with pytest.raises(AssertionError, match="the same timeline gave"):
            check_processor("test_hidden", [(0, 1.0), (10, 2.0)])


def test_a_processor_whose_output_is_its_input_fails() -> None:
    class Loop(_Bad):
        output = "app.depth"

    with REGISTRY.scoped():
        register("test_loop")(Loop)
        with pytest.raises(AssertionError, match="output != input"):
            check_processor("test_loop", [(0, 1.0)])


def test_a_derived_value_that_is_not_a_number_fails() -> None:
    class Text(_Bad):
        def derive(self, state: Any, ts: float, value: float) -> tuple[Any, float | None]:
            return None, "high"  # type: ignore[return-value]

    with REGISTRY.scoped():
        register("test_text")(Text)
        with pytest.raises(AssertionError, match="expected None or a finite number, got 'high'"):
            timeline("test_text", [(0, 1.0)])
