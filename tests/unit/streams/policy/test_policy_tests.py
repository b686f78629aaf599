"""`gamsi policy test` (issue 13 item 4): policy unit tests on the pure engine, like
`promtool test rules`; the shipped defaults' own tests (tests/policies/*.yaml) pass."""

from __future__ import annotations

from pathlib import Path

import pytest

from gamsi.cli import main
from gamsi.streams.policy.policy_run import run_file
from gamsi.streams.policy.series import expand

ROOT = Path(__file__).resolve().parents[4]
SHIPPED = sorted((ROOT / "tests" / "policies").glob("*.yaml"))
SITE = """
use_defaults: false
watches:
  - name: queue-deep
    item: app.queue_len
    levels: {danger: ">= 100"}
    duration: 30s
"""
TESTS = """
policy: site.yaml
interval: 10s
tests:
  - name: queue-deep raises after 30 s above 100
    series:
      - {host: app-1, item: app.queue_len, values: "0+50x4 200x5 0x3"}
    expect:
      - {at: AT, host: app-1, watch: queue-deep, transition: raise, severity: danger}
      - {at: 1m50s, host: app-1, watch: queue-deep, transition: recover, severity: normal}
"""


@pytest.mark.parametrize("path", SHIPPED, ids=[p.name for p in SHIPPED])
def test_the_shipped_defaults_pass_their_tests(path: Path) -> None:
    outcomes = run_file(str(path))
    assert outcomes
    assert [o.report(path.name) for o in outcomes if not o.passed] == []


@pytest.mark.parametrize(
    ("text", "values"),
    [
        ("0+10x3", [0, 10, 20, 30]),
        ("5x2 _ 7", [5, 5, 5, None, 7]),
        ("_x2 100-25x2", [None, None, 100, 75, 50]),
        ("1.5 -2", [1.5, -2]),
    ],
)
def test_the_series_notation_is_promtools(text: str, values: list[float | None]) -> None:
    assert expand(text) == values
    assert expand([1, None, 2.5]) == [1, None, 2.5]


@pytest.mark.parametrize(
    ("text", "message"),
    [("ten", "expected terms like"), ("5+1", "a step only on a number, with a count"),
     ("", "expected a list of numbers"), ([1, "x"], "expected numbers or null")],
)  # fmt: skip
def test_a_bad_series_says_what_was_expected(text: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        expand(text)


def _files(tmp_path: Path, at: str) -> Path:
    (tmp_path / "site.yaml").write_text(SITE)
    tests = tmp_path / "site_test.yaml"
    tests.write_text(TESTS.replace("AT", at))
    return tests


def test_a_passing_file_exits_0(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # at or above 100 from 20s: the breach has held 30 s at 50s; 0 again from 1m50s
    assert main(["policy", "test", str(_files(tmp_path, "50s"))]) == 0
    assert capsys.readouterr().out == "1 policy tests in 1 files: all passed\n"


def test_a_failing_file_exits_1_with_a_readable_diff(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _files(tmp_path, "1m")
    assert main(["policy", "test", str(path)]) == 1
    assert capsys.readouterr().out.splitlines() == [
        f"FAILED  {path}: queue-deep raises after 30 s above 100",
        "  expected, not seen:",
        "    - at      1m  app-1 queue-deep  raise DANGER",
        "  seen, not expected:",
        "    - at     50s  app-1 queue-deep item=app.queue_len  raise DANGER",
        "  every transition seen:",
        "      at     50s  app-1 queue-deep item=app.queue_len  raise DANGER",
        "      at   1m50s  app-1 queue-deep item=app.queue_len  recover NORMAL",
        "1 policy tests in 1 files: 1 of 1 failed",
    ]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("transition: raise", "transition: rise"), ":9: tests[0].expect[0].transition: "
         "expected one of raise, escalate, deescalate, recover"),
        (("values:", "valeus:"), ":7: tests[0].series[0].valeus: unknown key; expected one of "
         "host, instance, item, values"),
        (("severity: danger", "severity: loud"), ":9: tests[0].expect[0].severity: unknown "
         "severity 'loud'"),
        (("policy: site.yaml", "policy: nowhere.yaml"), "nowhere.yaml: (top): expected a "
         "policy file or directory"),
    ],
)  # fmt: skip
def test_a_bad_test_file_is_one_line_naming_file_line_and_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], change: tuple[str, str], message: str
) -> None:
    path = _files(tmp_path, "50s")
    path.write_text(path.read_text().replace(*change))
    assert main(["policy", "test", str(path)]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("gamsi: error: ")
    assert message in line
