"""docs/configuration.md is generated from the settings and must not drift from them."""

from __future__ import annotations

from pathlib import Path

from gamsi.cli import config_reference

DOC = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"


def test_configuration_reference_is_current() -> None:
    assert DOC.read_text() == config_reference(), (
        "regenerate with: .venv/bin/gamsi config docs > docs/configuration.md"
    )
