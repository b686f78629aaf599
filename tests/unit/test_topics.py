"""Every topic is declared once, in gamsi/topics.py, and every service ensures that list."""

from __future__ import annotations

import ast
from dataclasses import fields, replace
from pathlib import Path

from gamsi.settings import load_settings
from gamsi.topics import deliveries_topic, ticks_topic, topic_specs

ROOT = Path(__file__).resolve().parents[2]
STAGES = ["gamsi", "collector", "streams", "notifier", "history", "remediator", "web", "schemas"]


def _production_modules() -> list[Path]:
    return [p for stage in STAGES if (ROOT / stage).is_dir() for p in (ROOT / stage).rglob("*.py")]


def test_each_topic_is_declared_once() -> None:
    names = [spec.name for spec in topic_specs(load_settings(environ={}))]
    assert len(names) == len(set(names)), names


def test_every_configured_topic_is_declared() -> None:
    """Any setting that names a topic (…_topic) names one of the declared topics."""
    settings = load_settings(environ={})
    declared = {spec.name for spec in topic_specs(settings)}
    configured = {
        getattr(getattr(settings, section.name), f.name)
        for section in fields(settings)
        for f in fields(getattr(settings, section.name))
        if f.name.endswith("_topic") and getattr(getattr(settings, section.name), f.name)
    }
    assert configured <= declared, configured - declared
    assert ticks_topic(settings) in declared


def test_no_topic_is_declared_or_ensured_outside_topics_module() -> None:
    """TopicSpec is built only in gamsi/topics.py, and ensure_topics takes no private list."""
    offenders = []
    for path in _production_modules():
        if path == ROOT / "gamsi" / "topics.py":
            continue
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            name = getattr(node.func, "id", getattr(node.func, "attr", ""))
            if name == "TopicSpec" or (name == "ensure_topics" and len(node.args) > 1):
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}: {name}")
    assert not offenders, offenders


def test_deliveries_topic_has_one_retention_whoever_names_it() -> None:
    """The defect this replaced: the notifier declared 30 days, the history writer 7."""
    s = load_settings(environ={})
    own = replace(s, history=replace(s.history, deliveries_topic="x.deliveries"))
    assert deliveries_topic(own) == "x.deliveries"
    spec = next(t for t in topic_specs(own) if t.name == "x.deliveries")
    assert spec.config["retention.ms"] == str(30 * 86_400_000)
    assert spec.partitions == s.kafka.partitions
