"""The agent's import graph is honest: the collector's commands load none of the server
stages' packages, so ``pip install gamsi`` (no extras) is enough to run them.

Each check runs in a fresh interpreter (this test process has imported everything) and
lists the server packages found in ``sys.modules`` afterwards. The slim install itself is
tested in tests/integration/test_agent_install.py.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from gamsi.extras import EXTRA_OF, missing_extra

SERVER_ONLY = sorted(EXTRA_OF)
"""Top-level modules that only gamsi[server] / gamsi[remediation] install."""

_PROBE = """
import sys
{code}
loaded = sorted({{m.split(".")[0] for m in sys.modules}} & set({forbidden!r}))
print("LOADED", ",".join(loaded))
"""

PATHS = {
    "import gamsi.collector": "import gamsi.collector",
    "the lean entry point and the agent": (
        "import gamsi.collector.__main__, gamsi.collector.agent, gamsi.collector.collect"
    ),
    "gamsi's whole parser (gamsi collector ...)": "import gamsi.cli; gamsi.cli.build_parser()",
    "python -m gamsi.collector once": (
        "import contextlib, io\n"
        "from gamsi.collector.__main__ import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    assert main(['once', '--wait', '0']) == 0\n"
    ),
    "the agent's run path (topics, runner, broker wait)": (
        "import gamsi.runner, gamsi.topics, gamsi.kafka_errors, gamsi.collector.spool, "
        "gamsi.collector.publisher, gamsi.collector.systemd"
    ),
}


def loaded_server_modules(code: str) -> list[str]:
    """The server-only top-level modules ``code`` leaves in a fresh interpreter's sys.modules."""
    out = subprocess.run(
        [sys.executable, "-c", _PROBE.format(code=code, forbidden=SERVER_ONLY)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    line = next(x for x in out.stdout.splitlines() if x.startswith("LOADED"))
    return [m for m in line.removeprefix("LOADED").strip().split(",") if m]


@pytest.mark.parametrize("code", PATHS.values(), ids=PATHS.keys())
def test_the_collector_loads_no_server_package(code: str) -> None:
    assert loaded_server_modules(code) == []


def test_the_probe_sees_a_server_package_when_one_is_imported() -> None:
    """Not vacuous: the same probe reports a stage that does pull a server package."""
    assert "aiohttp" in loaded_server_modules("import gamsi.history.query_server")


@pytest.mark.parametrize(
    ("module", "extra"),
    [("aiohttp", "server"), ("faust.app", "server"), ("cryptography", "remediation")],
)
def test_a_missing_extra_is_one_line_naming_what_to_install(module: str, extra: str) -> None:
    exc = ModuleNotFoundError(f"No module named '{module}'", name=module)
    line = missing_extra(exc, "gamsi history run")
    assert line is not None
    assert line.startswith("gamsi history run needs")
    assert f"pip install 'gamsi[{extra}]'" in line
    assert "\n" not in line


def test_other_errors_are_not_blamed_on_an_extra() -> None:
    assert missing_extra(ModuleNotFoundError("x", name="not_ours")) is None
    assert missing_extra(ValueError("aiohttp")) is None
