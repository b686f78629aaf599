"""The command line's kindnesses: global options anywhere, "did you mean", exit codes,
and which failures count as "Kafka unreachable" (no network here)."""

from __future__ import annotations

import os
from pathlib import Path
from unittest import mock

import pytest
from aiokafka.errors import KafkaConnectionError, KafkaTimeoutError, TopicAuthorizationFailedError

from gamsi.cli import EXIT_CONFIG, UserError, build_parser, main
from gamsi.kafka_errors import unreachable


@pytest.mark.parametrize(
    "argv",
    [
        ["-v", "config", "show"],
        ["config", "show", "-v"],
        ["config", "-v", "show"],
        ["config", "show", "--verbose"],
    ],
)
def test_verbose_is_taken_before_or_after_the_subcommand(argv: list[str]) -> None:
    assert build_parser().parse_args(argv).verbose is True


@pytest.mark.parametrize(
    "argv",
    [["-c", "x.toml", "config", "show"], ["config", "show", "-c", "x.toml"]],
)
def test_config_is_taken_before_or_after_the_subcommand(argv: list[str]) -> None:
    args = build_parser().parse_args(argv)
    assert args.config == "x.toml"
    assert args.verbose is False


def test_a_global_option_before_is_not_reset_by_the_subcommand() -> None:
    args = build_parser().parse_args(["-v", "-c", "a.toml", "history", "report"])
    assert (args.verbose, args.config) == (True, "a.toml")


def test_config_show_v_prints_each_setting_s_help(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["config", "show", "-v"]) == 0
    out = capsys.readouterr().out
    assert "[kafka] bootstrap = " in out
    assert "    Kafka bootstrap servers, comma separated." in out


@pytest.mark.parametrize(
    ("argv", "hint"),
    [
        (["stauts"], "did you mean 'status'"),
        (["kafka", "stat"], "'status'"),
        (["histroy", "report"], "did you mean 'history'"),
        (["up", "--only", "notifer"], "did you mean 'notifier'"),
    ],
)
def test_a_mistyped_name_gets_did_you_mean(
    argv: list[str], hint: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert hint in err
    assert "Traceback" not in err


def test_a_name_close_to_nothing_lists_the_choices(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["zzzzzz"])
    err = capsys.readouterr().err
    assert "unknown choice 'zzzzzz'; expected one of kafka, config" in err


def test_a_configuration_error_exits_78_naming_file_key_and_expected(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "gamsi.toml"
    bad.write_text('[kafka]\nbootstrapp = "x:1"\n')
    assert main(["config", "show", "-c", str(bad)]) == EXIT_CONFIG
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert str(bad) in line
    assert "bootstrapp" in line
    assert "expected one of" in line


def test_a_user_error_exits_2_in_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def fail(args: object, settings: object) -> int:
        raise UserError("what to do")

    monkeypatch.setattr("gamsi.cli._config_docs", fail)
    assert main(["config", "docs"]) == 2
    assert capsys.readouterr().err == "gamsi: error: what to do\n"


@pytest.mark.parametrize(
    "exc",
    [
        KafkaConnectionError("Unable to bootstrap from [('127.0.0.1', 1)]"),
        KafkaTimeoutError(),
        ConnectionRefusedError(111, "Connect call failed"),
        TimeoutError("Kafka at 127.0.0.1:1 did not answer within 60 s: None"),
    ],
)
def test_unreachable_recognises_the_class(exc: BaseException) -> None:
    assert unreachable(exc)
    wrapped = RuntimeError("while publishing")
    wrapped.__cause__ = exc
    assert unreachable(wrapped)  # anywhere in the chain
    assert unreachable(ExceptionGroup("tasks", [ValueError("x"), exc]))  # type: ignore[list-item]


@pytest.mark.parametrize(
    "exc",
    [ValueError("bad"), TopicAuthorizationFailedError(), TimeoutError("a chDB query timed out")],
)
def test_unreachable_leaves_other_failures_alone(exc: BaseException) -> None:
    assert not unreachable(exc)


def test_a_bug_still_raises_with_its_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    def bug(args: object, settings: object) -> int:
        raise ZeroDivisionError

    monkeypatch.setattr("gamsi.cli._config_docs", bug)
    with pytest.raises(ZeroDivisionError):
        main(["config", "docs"])


def test_kafka_stop_is_refused_while_gamsi_up_owns_the_broker(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """gamsi up restarts a broker that stops: `gamsi kafka stop` says so instead of
    printing 'Kafka stopped' and seeing it come back."""
    from gamsi.cli import main
    from gamsi.instance_lock import running_up, take_lock

    assert running_up(tmp_path) is None
    lock = take_lock(tmp_path)
    try:
        assert running_up(tmp_path) == str(os.getpid())
        env = {"GAMSI_PATHS_DATA_DIR": str(tmp_path)}
        with mock.patch.dict(os.environ, env):
            assert main(["kafka", "stop"]) == 2
        assert "belongs to gamsi up" in capsys.readouterr().err
    finally:
        lock.close()
    assert running_up(tmp_path) is None
