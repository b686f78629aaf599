"""The item catalogue, docs/items.md and what the collector's inputs emit agree."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from gamsi.collector.collect import Collector
from gamsi.collector.replay import ReplayStats
from gamsi.settings import CollectorSettings
from gamsi.streams.policy.catalogue import COLLECTOR_ITEMS

ROOT = Path(__file__).resolve().parents[4]
FIXTURES = sorted((ROOT / "tests" / "fixtures" / "collector").glob("*.json"))
HINT = "keep streams/policy/catalogue.py and docs/items.md in step with the collector's inputs"


def documented_items() -> set[str]:
    """Item names in the first column of docs/items.md's table (``a`` / ``b`` rows split)."""
    names: set[str] = set()
    for line in (ROOT / "docs" / "items.md").read_text().splitlines():
        if line.startswith("| ") and not line.startswith("| custom"):
            names |= set(re.findall(r"`([^`]+)`", line.split("|")[1]))
    return names


def test_the_docs_table_lists_exactly_the_catalogue():
    assert documented_items() == set(COLLECTOR_ITEMS), HINT


@pytest.mark.parametrize("fixture", FIXTURES, ids=[f.stem for f in FIXTURES])
def test_every_item_an_input_emits_is_in_the_catalogue(fixture):
    stats = ReplayStats.load(fixture)
    config = CollectorSettings(host="h", interval=1.0, processes=["java", "sshd"])
    collector = Collector(config, stats).open()
    emitted: set[str] = set()
    try:
        for i in range(len(stats.frames)):
            if i:
                stats.advance()
            emitted |= {s.item for s in collector.collect(stats.t)}
    finally:
        collector.close()
    assert len(emitted) > 20  # the replay really ran the inputs
    assert emitted <= COLLECTOR_ITEMS, (sorted(emitted - COLLECTOR_ITEMS), HINT)
