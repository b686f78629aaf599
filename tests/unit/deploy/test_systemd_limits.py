"""Every systemd unit raises its file-descriptor limit well above the HTTP connection cap.

systemd's default soft limit is 1,024 descriptors: 1,100 idle connections to the ack
API exhausted it and every ack failed with a traceback. Each unit (a web service
or a /metrics endpoint added later included) sets ``LimitNOFILE``.
"""

from __future__ import annotations

import pytest

from gamsi.http_config import HttpSettings

from .test_systemd import UNITS, parse_unit

SERVICE_UNITS = sorted(p.name for p in UNITS.glob("*.service"))


@pytest.mark.parametrize("name", SERVICE_UNITS)
def test_unit_sets_a_file_descriptor_limit_above_the_connection_cap(name: str) -> None:
    service = parse_unit((UNITS / name).read_text())["Service"]
    assert "LimitNOFILE" in service, f"{name}: no LimitNOFILE"
    (limit,) = service["LimitNOFILE"]
    assert int(limit) >= 8 * HttpSettings().max_connections


def test_every_service_unit_is_checked() -> None:
    assert len(SERVICE_UNITS) >= 5


@pytest.mark.parametrize("name", [n for n in SERVICE_UNITS if n != "gamsi-kafka.service"])
def test_a_configuration_error_is_not_restarted_in_a_loop(name: str) -> None:
    """gamsi exits 78 on a configuration error and 2 on a usage error (docs/running.md):
    systemd must not restart those, as `gamsi up` does not."""
    from gamsi.cli import EXIT_CONFIG

    service = parse_unit((UNITS / name).read_text())["Service"]
    (codes,) = service["RestartPreventExitStatus"]
    assert {"2", str(EXIT_CONFIG)} <= set(codes.split())
