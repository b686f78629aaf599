"""The agent alone: ``pip install .`` (no extras) into a fresh virtual environment, then
the collector runs from it — ``gamsi collector once`` and the service publishing to the
real broker. The checkout is copied first (without .venv, caches and data) so the build
leaves nothing in the working tree; as docs/deploy.md says, a wheel is built once and
installed; pip fetches the four dependencies from PyPI (or its cache). The server
stages' packages must not be installed at all.
"""

from __future__ import annotations

import asyncio
import os
import shlex
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
WHEEL = "gamsi-0.1.0-py3-none-any.whl"
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
    steps = (  # docs/deploy.md, "A fleet": build the wheel once, install it on each server
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(base), str(src)],
        [str(bin_dir / "python"), "-m", "pip", "install", "--quiet", str(base / WHEEL)],
    )
    for argv in steps:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=600, check=False)
        assert done.returncode == 0, done.stderr[-3000:]
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


def test_the_installed_unit_publishes_from_the_agent_install(
    agent_venv: Path, settings: Settings, tmp_path: Path
) -> None:
    """docs/deploy.md's fleet path on one server: ``gamsi -c gamsi.toml collector install``
    from the agent install writes the unit; its ExecStart (the agent install's python, the
    lean entry point) publishes to the real broker and stops cleanly on SIGTERM, as
    ``systemctl stop`` sends. The environment is what /etc/gamsi/gamsi.env would hold."""
    config = tmp_path / "gamsi.toml"
    config.write_text('[collector]\nhost = "slim-agent"\ninterval = 1.0\n')
    env = {k: v for k, v in os.environ.items() if not k.startswith("GAMSI_")}
    env.update({k: v for k, v in to_environ(settings).items() if not k.startswith("GAMSI_COL")})
    unit = tmp_path / "gamsi-collector.service"
    subprocess.run(
        [str(agent_venv / "gamsi"), "-c", str(config), "collector", "install", "--path", str(unit)],
        env=env, cwd=tmp_path, check=True, timeout=120, capture_output=True,
    )  # fmt: skip
    exec_start = next(x for x in unit.read_text().splitlines() if x.startswith("ExecStart="))
    argv = shlex.split(exec_start.removeprefix("ExecStart="))
    assert argv[:3] == [str(agent_venv / "python"), "-m", "gamsi.collector"]
    assert argv[-3:] == ["--config", str(config), "run"]
    log = tmp_path / "agent.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(argv, env=env, cwd="/", stdout=out, stderr=subprocess.STDOUT)
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


def test_what_the_agent_install_lacks_is_one_line_naming_the_extra(
    agent_venv: Path, settings: Settings, tmp_path: Path
) -> None:
    """A central command, and recovery scripts configured on an agent without the
    remediation extra: each ends with one line saying what to install, no traceback."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GAMSI_")}
    env.update(to_environ(settings))
    key = tmp_path / "remediator.pub"
    key.write_text("not read: the import fails first\n")
    runs = {
        "server": [str(agent_venv / "gamsi"), "history", "query", "SELECT 1"],
        "remediation": [str(agent_venv / "python"), "-m", "gamsi.collector", "run"],
    }
    for extra, argv in runs.items():
        out = subprocess.run(
            argv,
            env={**env, "GAMSI_REMEDIATOR_PUBLIC_KEY_FILE": str(key)},
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert out.returncode == 2, out.stderr[-3000:]
        assert "Traceback" not in out.stderr
        assert f"pip install 'gamsi[{extra}]'" in out.stderr.strip().splitlines()[-1]
