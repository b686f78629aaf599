"""Every producer Gamsi builds writes with acks=all and idempotence (gamsi.kafka_auth).

On a cluster (docs/running.md, "A three-node cluster") a record acknowledged with
``acks=all`` is on every in-sync replica, at least ``min.insync.replicas`` = 2 of 3, so
losing a broker loses nothing; idempotence keeps a retried batch from being written
twice. One producer built with the defaults would quietly break both promises.
"""

from __future__ import annotations

import ast
from pathlib import Path

from gamsi.kafka_auth import producer_options
from gamsi.settings import load_settings

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ["gamsi", "collector", "streams", "notifier", "history", "remediator", "web"]


def _durable(call: ast.Call, from_helper: set[str]) -> bool:
    """The call takes **producer_options(...) (directly or through a name bound to it),
    or says acks="all" and enable_idempotence=True itself."""
    explicit = {
        k.arg: k.value.value
        for k in call.keywords
        if k.arg is not None and isinstance(k.value, ast.Constant)
    }
    if explicit.get("acks") == "all" and explicit.get("enable_idempotence") is True:
        return True
    for k in call.keywords:
        if k.arg is not None:
            continue
        value = k.value
        if isinstance(value, ast.Call) and getattr(value.func, "id", "") == "producer_options":
            return True
        if ast.unparse(value) in from_helper:
            return True
    return False


def _bound_to_helper(tree: ast.AST) -> set[str]:
    """Names (``x``, ``self._kafka``) assigned ``producer_options(...)`` in the module."""
    names = set()
    for node in ast.walk(tree):
        value = getattr(node, "value", None)
        if isinstance(node, ast.Assign) and isinstance(value, ast.Call):
            names |= {
                ast.unparse(t)
                for t in node.targets
                if ast.unparse(value.func) == "producer_options"
            }
    return names


def test_every_producer_acks_all_with_idempotence() -> None:
    producers, weak = 0, []
    for path in sorted(p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py")):
        tree = ast.parse(path.read_text())
        helper = _bound_to_helper(tree)
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and ast.unparse(node.func).endswith("AIOKafkaProducer"):
                producers += 1
                if not _durable(node, helper):
                    weak.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert producers >= 8  # the scan sees the producers (collector, notifier, history, ...)
    assert weak == [], "use **producer_options(settings) at: " + ", ".join(weak)


def test_the_helper_adds_acks_and_idempotence_to_the_connection_options() -> None:
    options = producer_options(load_settings(environ={"GAMSI_KAFKA_BOOTSTRAP": "k:9092"}))
    assert options == {
        "bootstrap_servers": "k:9092",
        "acks": "all",
        "enable_idempotence": True,
    }
