"""Run `gamsi policy ...` in-process with settings under tmp_path and no network."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from gamsi.schemas.codec import encode
from gamsi.schemas.records import MetricBatch, Sample
from gamsi.settings import Settings


def batch(host: str, *items: str) -> MetricBatch:
    """A metric batch from ``host`` with one sample of each item."""
    return MetricBatch(host, 1000.0, [Sample(i, 1.0) for i in items], 1, 10.0, "linux", [])


@pytest.fixture
def policy_cmd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., int]:
    """``policy_cmd("validate", FILE, ...)`` → exit code; the inventory is ``inventory.jsonl``
    under tmp_path (one host reporting ``app.queue_len``), no policy is applied on Kafka, and
    `apply` publishes into the list ``policy_cmd.published`` (the sources) instead."""
    from gamsi.streams.policy import cli, feed

    async def nothing_applied(settings: Settings, *args: object, **kwargs: object) -> None:
        return None

    published: list[str] = []

    async def publish(settings: Settings, policy: object, source: str, *args: object) -> None:
        published.append(source)

    monkeypatch.setattr(feed, "current_policy", nothing_applied)
    monkeypatch.setattr(feed, "publish_policy", publish)
    inventory = tmp_path / "inventory.jsonl"
    inventory.write_bytes(encode(batch("app-1", "memory.used_pct", "app.queue_len")) + b"\n")
    parser = argparse.ArgumentParser(prog="gamsi")
    cli.add_commands(parser.add_subparsers(dest="command", required=True))
    base = Settings()
    settings = replace(
        base,
        paths=replace(base.paths, data_dir=str(tmp_path / "data")),
        kafka=replace(base.kafka, bootstrap="127.0.0.1:9"),  # nothing may reach Kafka
        streams=replace(base.streams, policy_path="", inventory_file=str(inventory)),
    )

    def run(*argv: str) -> int:
        args = parser.parse_args(["policy", *argv])
        return args.handler(args, settings)

    run.published = published  # type: ignore[attr-defined]
    return run
