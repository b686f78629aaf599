# examples/plugin/tests/test_plugins.py
"""The plugin's tests: Gamsi's published contract checks, plus what is special here."""

import pytest

from gamsi.collector.registry import load_inputs
from gamsi.notifier.channels import load_channel_types
from gamsi.notifier.secrets import Secrets
from gamsi.streams.rules.registry import load_processors
from gamsi.testing.channels import SECRET, check_status_table, check_unreachable
from gamsi.testing.inputs import check_samples, linux_vm, replay_input
from gamsi.testing.processors import check_processor, timeline


def test_the_entry_points_find_all_three() -> None:
    assert load_inputs()["headroom"].__module__ == "gamsi_example.headroom"
    assert load_processors()["headroom_trend"].__module__ == "gamsi_example.trend"
    assert load_channel_types()["pager"].__module__ == "gamsi_example.pager"


def test_headroom_on_a_captured_host() -> None:
    stats = linux_vm()
    ticks = replay_input("headroom", stats)
    for samples in ticks:
        check_samples(samples)
    memory, swap = stats.memory(), stats.swap()  # the last frame, as replayed
    assert ticks[-1][0].value == memory.available + swap.total - swap.used


def test_trend_timeline() -> None:
    points = [(0, 8e9), (2, 7e9), (10, 6e9), (20, 6e9)]
    assert timeline("headroom_trend", points) == [
        (0, None), (2, None), (10, -2e8), (20, 0.0)
    ]  # fmt: skip
    check_processor("headroom_trend", points)


def test_trend_rejects_a_zero_gap() -> None:
    with pytest.raises(ValueError, match="min_gap: expected a duration above 0"):
        timeline("headroom_trend", [], {"min_gap": 0})


def pager(url: str):  # the channel as a routing file would configure it
    options = {"type": "pager", "url": url, "token_env": "PAGER_TOKEN"}
    return load_channel_types()["pager"]("pager", options, Secrets({"PAGER_TOKEN": SECRET}))


async def test_pager_status_table_and_secrets() -> None:
    await check_status_table(pager)
    await check_unreachable(pager)
