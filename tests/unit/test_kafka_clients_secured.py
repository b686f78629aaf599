"""Every Kafka client Gamsi builds takes TLS and SASL from the settings, none bypasses them.

A client made with ``bootstrap_servers=`` alone would ignore ``[kafka] security_protocol``
and fail (or, worse, talk plaintext to a listener that allows it) on a secured
cluster; every production module builds its clients from
:func:`gamsi.kafka_auth.kafka_client_options`, and the Faust app from
:func:`gamsi.kafka_auth.faust_credentials`.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ["gamsi", "collector", "streams", "notifier", "history", "remediator", "web"]
SOURCES = sorted(p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py"))


def test_no_client_is_built_from_the_bootstrap_alone() -> None:
    bypass = [
        f"{p.relative_to(ROOT)}:{n}"
        for p in SOURCES
        if p.name != "kafka_auth.py"
        for n, line in enumerate(p.read_text().splitlines(), 1)
        if re.search(r"\bbootstrap_servers\s*=", line)
    ]
    assert bypass == [], "use **kafka_client_options(settings) at: " + ", ".join(bypass)


def test_every_faust_app_gets_the_broker_credentials() -> None:
    """Any construction of faust.App or of a subclass of it (streams/transport.py)."""
    subclasses = set(re.findall(r"class (\w+)\(faust\.App\)", _all_sources()))
    pattern = re.compile(r"\b(?:faust\.App|" + "|".join(subclasses or {"faust.App"}) + r")\(")
    apps = [
        p
        for p in SOURCES
        for line in p.read_text().splitlines()
        if pattern.search(line) and not line.lstrip().startswith("class ")
    ]
    assert apps, "no Faust app found: this test looks in the wrong place"
    for path in apps:
        assert "broker_credentials=faust_credentials(" in path.read_text(), path


def _all_sources() -> str:
    return "\n".join(p.read_text() for p in SOURCES)
