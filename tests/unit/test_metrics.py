"""gamsi.metrics: figures read at scrape time into the Prometheus text format."""

from __future__ import annotations

from collections import Counter

import pytest
from prometheus_client.parser import text_string_to_metric_families

from gamsi.metrics import Figures


def samples(text: bytes) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a scrape, parsed by prometheus_client's own parser."""
    out = {}
    for family in text_string_to_metric_families(text.decode()):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


async def test_figures_are_read_at_each_scrape_with_labels_and_info() -> None:
    counts: Counter[tuple[str, str]] = Counter()
    rows = {"n": 0}
    f = Figures("notifier")
    f.counter("gamsi_x_rows_total", "Rows.", lambda: rows["n"])
    labels = ("channel", "result")
    f.counter("gamsi_x_deliveries_total", "By outcome.", lambda: dict(counts), labels)
    f.info("gamsi_x_policy", "In force.", lambda: {"source": "prod.yaml", "offset": "7"})
    refreshed = []

    async def refresh() -> None:
        refreshed.append(1)

    f.on_scrape(refresh)
    first = samples(await f.render())
    assert first[("gamsi_x_rows_total", ())] == 0
    assert first[("gamsi_x_policy_info", (("offset", "7"), ("source", "prod.yaml")))] == 1
    assert any(name == "process_resident_memory_bytes" for name, _ in first)  # the process's own
    rows["n"] = 5
    counts[("slack", "sent")] += 2
    second = samples(await f.render())
    assert second[("gamsi_x_rows_total", ())] == 5
    assert second[("gamsi_x_deliveries_total", (("channel", "slack"), ("result", "sent")))] == 2
    assert refreshed == [1, 1]


async def test_a_broken_reader_or_refresh_leaves_the_rest_of_the_scrape() -> None:
    f = Figures("streams")

    def broken() -> float:
        raise ZeroDivisionError

    async def failing() -> None:
        raise OSError("broker away")

    f.gauge("gamsi_broken", "Broken.", broken)
    f.gauge("gamsi_fine", "Fine.", lambda: 3)
    f.on_scrape(failing)
    got = samples(await f.render())
    assert got[("gamsi_fine", ())] == 3
    assert not any(name == "gamsi_broken" for name, _ in got)


def test_a_counter_name_must_end_in_total() -> None:
    with pytest.raises(ValueError, match="ends in _total"):
        Figures("x").counter("gamsi_rows", "Rows.", lambda: 0)
