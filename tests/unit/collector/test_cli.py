from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from gamsi.cli import main
from gamsi.collector.systemd import render_unit


def test_install_print_renders_a_unit_that_runs_the_agent(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    config = tmp_path / "gamsi.toml"
    config.write_text("[collector]\ninterval = 5.0\n")
    assert main(["-c", str(config), "collector", "install", "--print", "--user", "gamsi"]) == 0
    unit = capsys.readouterr().out
    assert "User=gamsi\n" in unit
    exec_start = next(line for line in unit.splitlines() if line.startswith("ExecStart="))
    assert exec_start == f"ExecStart={sys.executable} -m gamsi.collector --config {config} run"
    assert "ExecReload=/bin/kill -HUP $MAINPID" in unit
    assert "Restart=always" in unit
    assert "WantedBy=multi-user.target" in unit


def test_install_writes_the_unit_file(tmp_path: Path) -> None:
    target = tmp_path / "gamsi-collector.service"
    assert main(["collector", "install", "--path", str(target), "--user", "root"]) == 0
    assert target.read_text() == render_unit("root", None)


def test_the_committed_unit_is_what_install_renders_for_a_packaged_gamsi() -> None:
    committed = Path(__file__).parents[3] / "deploy" / "systemd" / "gamsi-collector.service"
    command = ["/usr/local/bin/gamsi", "collector"]
    assert committed.read_text() == render_unit("gamsi", None, command)


def test_capture_then_replay(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from gamsi.collector.replay import ReplayStats

    path = tmp_path / "host.json"
    assert main(["collector", "capture", str(path), "--frames", "2", "--gap", "0.05"]) == 0
    stats = ReplayStats.load(path)
    assert stats.os() == ("linux" if sys.platform.startswith("linux") else stats.os())
    assert stats.cpu_count() >= 1
    stats.advance()
    assert stats.t > stats.frames[0]["t"]


def test_once_prints_one_batch(capsys: pytest.CaptureFixture[str], monkeypatch) -> None:
    monkeypatch.setenv("GAMSI_COLLECTOR_HOST", "once-host")
    assert main(["collector", "once", "--wait", "0.2"]) == 0
    batch = json.loads(capsys.readouterr().out)
    assert batch["host"] == "once-host"
    assert batch["kind"] == "metric_batch"
    assert "cpu.util" in {s["item"] for s in batch["samples"]}
