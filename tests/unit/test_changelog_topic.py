"""The stream workers' changelog topic is declared with Gamsi's topics (gamsi/topics.py),
under the name Faust gives the host-state table's changelog."""

from __future__ import annotations

from gamsi.settings import load_settings
from gamsi.streams.app import STATE_TABLE
from gamsi.topics import changelog_topic, topic_specs


def test_the_changelog_is_declared_under_faust_s_name_with_the_metrics_partitions() -> None:
    settings = load_settings(environ={})
    name = f"{settings.streams.app_id}-{STATE_TABLE}-changelog"  # faust.tables.base.Table
    assert changelog_topic(settings) == name
    specs = {spec.name: spec for spec in topic_specs(settings)}
    assert specs[name].partitions == specs[settings.kafka.metrics_topic].partitions
    assert specs[name].config["cleanup.policy"] == "compact"
