"""The systemd units: hardened, restartable, and starting real `gamsi` subcommands."""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .deploy_helpers import ROOT, parse_gamsi

UNITS = ROOT / "deploy/systemd"
SERVICES = {
    "gamsi-streams.service": ["streams", "run"],
    "gamsi-notifier.service": ["notifier", "run"],
    "gamsi-remediator.service": ["remediator", "run"],
    "gamsi-history.service": ["history", "run"],
    "gamsi-kafka.service": ["kafka", "start"],
    "gamsi-web.service": ["web", "run"],
}


def parse_unit(text: str) -> dict[str, dict[str, list[str]]]:
    """Sections of key → values; a key may repeat (Environment=), as systemd allows."""
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] | None = None
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], {})
            continue
        assert current is not None, f"line {number}: key outside a section"
        key, sep, value = line.partition("=")
        assert sep, f"line {number}: expected KEY=VALUE, got {line!r}"
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


def unit(name: str) -> dict[str, dict[str, list[str]]]:
    return parse_unit((UNITS / name).read_text())


def gamsi_args(exec_line: str) -> list[str]:
    argv = shlex.split(exec_line)
    assert argv[0].endswith("/gamsi"), exec_line
    return argv[1:]


@pytest.mark.parametrize(("name", "command"), SERVICES.items())
def test_service_unit(name: str, command: list[str]) -> None:
    u = unit(name)
    svc = u["Service"]
    assert gamsi_args(svc["ExecStart"][0]) == command
    parse_gamsi(command)
    for stop in svc.get("ExecStop", []):
        parse_gamsi(gamsi_args(stop))
    assert svc["Type"] == (["forking"] if name == "gamsi-kafka.service" else ["simple"])
    assert svc["Restart"] == ["on-failure"]
    assert svc["EnvironmentFile"] == ["-/etc/gamsi/gamsi.env"]
    assert svc["User"] == ["gamsi"]
    assert svc["NoNewPrivileges"] == ["yes"]
    assert svc["ProtectSystem"] == ["strict"]
    assert "/var/lib/gamsi" in svc["ReadWritePaths"][0].split()
    assert u["Unit"]["PartOf"] == ["gamsi.target"]
    assert u["Install"]["WantedBy"] == ["gamsi.target"]


def test_kafka_pid_file_is_where_the_broker_writes_it() -> None:
    from gamsi.kafka_broker import LocalBroker
    from gamsi.settings import load_settings

    svc = unit("gamsi-kafka.service")["Service"]
    env = dict(kv.split("=", 1) for kv in " ".join(svc["Environment"]).split())
    broker = LocalBroker(load_settings(environ=env))
    assert svc["PIDFile"] == [str(broker.pid_file)]


def test_target_wants_every_service() -> None:
    wants = set(" ".join(unit("gamsi.target")["Unit"]["Wants"]).split())
    assert wants == set(SERVICES)


def test_every_unit_in_the_folder_runs_a_known_command() -> None:
    """Also the collector's unit, which the collector package renders."""
    for path in sorted(UNITS.glob("*.service")):
        for line in parse_unit(path.read_text())["Service"]["ExecStart"]:
            parse_gamsi(gamsi_args(line))


@pytest.mark.skipif(not shutil.which("systemd-analyze"), reason="systemd-analyze not installed")
def test_systemd_analyze_verify_finds_nothing(tmp_path: Path) -> None:
    """systemd's own checker: unknown keys, bad values, missing binaries."""
    gamsi = Path(sys.executable).parent / "gamsi"
    names = [*SERVICES, "gamsi.target"]
    for name in names:
        text = (UNITS / name).read_text().replace("/usr/local/bin/gamsi", str(gamsi))
        (tmp_path / name).write_text(text)
    done = subprocess.run(
        ["systemd-analyze", "verify", *(str(tmp_path / n) for n in names)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip() == "", done.stderr
