"""The agent alone: ``pip install .`` (no extras) into a fresh virtual environment, then
the collector runs from it — ``gamsi collector once`` and the service publishing to the
real broker. The checkout is copied first (without .venv, caches and data) so the build
leaves nothing in the working tree; pip fetches the four dependencies from PyPI (or its
cache). The server stages' packages must not be installed at all.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from gamsi.schemas.codec import decode_metric_batch
from gamsi.settings import Settings, to_environ
from tests.integration.kafka_io import wait_for_records

ROOT = Path(__file__).resolve().parents[2]
AGENT_PACKAGES = {"aiokafka", "psutil", "orjson", "pyyaml", "gamsi"}
SERVER_PACKAGES = {
    "faust-streaming",
    "mode-streaming",
    "clickhouse-connect",
    "chdb",
    "chdb-core",
    "slack-sdk",
    "aiohttp",
    "aiosmtplib",
    "sqlglot",
    "prometheus-client",
    "cryptography",
    "pyarrow",
    "pandas",
}
IGNORED = shutil.ignore_patterns(
    ".venv", ".git", "__pycache__", "*.egg-info", "build", "dist", "test-artifacts",
    ".gamsi", ".*_cache", ".hypothesis", "*.chdb",
)  # fmt: skip


@pytest.fixture(scope="module")
def agent_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """bin/ of a fresh virtual environment holding ``pip install <checkout>`` only."""
    base = tmp_path_factory.mktemp("agent")
    src = base / "src"
    shutil.copytree(ROOT, src, ignore=IGNORED)
    subprocess.run([sys.executable, "-m", "venv", str(base / "venv")], check=True, timeout=120)
    bin_dir = base / "venv" / "bin"
    pip = subprocess.run(
        [str(bin_dir / "python"), "-m", "pip", "install", "--quiet", str(src)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert pip.returncode == 0, pip.stderr[-3000:]
    return bin_dir


def installed(bin_dir: Path) -> set[str]:
    out = subprocess.run(
        [str(bin_dir / "python"), "-m", "pip", "list", "--format", "json"],
        capture_output=True,
        check=True,
        timeout=120,
    )
    return {p["name"].lower().replace("_", "-") for p in orjson.loads(out.stdout)}


def test_the_agent_install_holds_the_agent_packages_and_no_server_one(agent_venv: Path) -> None:
    names = installed(agent_venv)
    assert names >= AGENT_PACKAGES
    assert not names & SERVER_PACKAGES, names & SERVER_PACKAGES


def test_gamsi_collector_once_runs_from_the_agent_install(agent_venv: Path, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GAMSI_")}
    out = subprocess.run(
        [str(agent_venv / "gamsi"), "collector", "once", "--wait", "0.2"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,  # no gamsi.toml here, and not the checkout: the installed package
        env=env,
        check=False,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    batch = orjson.loads(out.stdout)
    assert batch["kind"] == "metric_batch"
    items = {s["item"] for s in batch["samples"]}
    assert {"cpu.util", "memory.used_pct"} <= items, items


def test_the_agent_service_publishes_from_the_agent_install(
    agent_venv: Path, settings: Settings, tmp_path: Path
) -> None:
    """``python -m gamsi.collector run`` (what the systemd unit runs) on the real broker."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GAMSI_")}
    env.update(to_environ(settings))
    env.update(GAMSI_COLLECTOR_INTERVAL="1", GAMSI_COLLECTOR_HOST="slim-agent")
    log = tmp_path / "agent.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(agent_venv / "python"), "-m", "gamsi.collector", "run"],
            env=env,
            cwd=tmp_path,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        records = asyncio.run(
            wait_for_records(
                settings,
                settings.kafka.metrics_topic,
                lambda got: len(got) >= 2,
                decode_metric_batch,
                within=90,
                service=proc,
            )
        )
        assert {r.host for r in records} == {"slim-agent"}
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0, log.read_text()[-3000:]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
