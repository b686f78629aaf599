"""The command input runs real programs (no shell) and never crashes on their failures."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from gamsi.collector.inputs.command import CommandInput, parse_commands
from gamsi.collector.replay import ReplayStats
from gamsi.schemas.records import Sample
from gamsi.settings import CollectorSettings, ConfigError


def make(linux: ReplayStats, *commands: str, timeout: float = 2.0) -> CommandInput:
    inp = CommandInput(
        linux, CollectorSettings(interval=5.0, commands=list(commands), command_timeout=timeout)
    )
    inp.init()
    return inp


def script(tmp_path: Path, name: str, body: str) -> str:
    path = tmp_path / name
    path.write_text(f"#!{sys.executable}\n{body}\n")
    path.chmod(0o755)
    return str(path)


def test_number_on_stdout_becomes_a_sample(linux: ReplayStats, tmp_path: Path) -> None:
    prog = script(tmp_path, "depth", "print(' 41.5 ')")
    inp = make(linux, f"app.depth: {prog}", "app.one: echo 1")
    assert inp.collect(0.0) == [Sample("app.depth", 41.5), Sample("app.one", 1.0)]


def test_arguments_are_never_given_to_a_shell(linux: ReplayStats, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    prog = script(tmp_path, "args", "import sys; print(len(sys.argv) - 1)")
    inp = make(linux, f"app.args: {prog} '; touch {marker}' '$(touch {marker})'")
    assert inp.collect(0.0) == [Sample("app.args", 2.0)]
    assert not marker.exists()


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("import sys; sys.exit(3)", "exited with 3"),
        ("print('ok')", "expected one number"),
        ("print('nan')", "expected one number"),
        ("import time; time.sleep(30)", "ran longer than command_timeout (0.5 s) and was killed"),
    ],
)
def test_failures_are_logged_and_yield_no_sample(
    linux: ReplayStats,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    body: str,
    message: str,
) -> None:
    inp = make(linux, f"app.bad: {script(tmp_path, 'bad', body)}", "app.good: echo 2", timeout=0.5)
    assert inp.collect(0.0) == [Sample("app.good", 2.0)]
    assert message in caplog.text
    assert "app.bad" in caplog.text
    caplog.clear()
    inp.collect(1.0)
    assert message not in caplog.text  # logged once while the failure lasts


def test_a_missing_program_is_a_config_error(linux: ReplayStats) -> None:
    with pytest.raises(ConfigError, match=r"commands\[0\]: 'no-such-prog-x' is not an executable"):
        parse_commands(["app.x: no-such-prog-x --flag"])


def test_malformed_entry_is_rejected_at_load_naming_the_file(tmp_path: Path) -> None:
    from gamsi.settings import load_settings

    cfg = tmp_path / "gamsi.toml"
    cfg.write_text('[collector]\ninterval = 10.0\ncommands = ["queue_depth /bin/true"]\n')
    with pytest.raises(ConfigError) as err:
        load_settings(cfg, environ={})
    assert str(cfg) in str(err.value)
    assert "commands[0]: expected 'item.name: /path/to/program args'" in str(err.value)


def test_timeout_must_be_shorter_than_the_interval() -> None:
    with pytest.raises(ConfigError, match=r"command_timeout: expected 0 \(half the interval\)"):
        CollectorSettings(interval=1.0, commands=["a.b: /bin/true"], command_timeout=5.0)


def test_the_default_timeout_follows_a_short_interval() -> None:
    """A user who sets interval = 2 with commands never wrote command_timeout: no error."""
    short = CollectorSettings(interval=2.0, commands=["a.b: /bin/true"])
    assert short.effective_command_timeout == 1.0
    assert CollectorSettings(interval=60.0, commands=["a.b: x"]).effective_command_timeout == 5.0
