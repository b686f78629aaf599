"""The `remediate:` binding of a watch: strict validation with file:line errors (one
fixture per mistake), the canonical dump, and argv rendering without a shell."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from gamsi.schemas.records import Severity
from gamsi.streams.policy import PolicyError, load_policy, policy_from_plain, policy_to_dict
from gamsi.streams.policy.dump import watch_to_dict
from gamsi.streams.policy.remediate import UnsafeValue, render_args

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "remediation" / "invalid"
AT = "watches[0].remediate[0]"
CASES = [
    # fixture, line, key path, what the message must say
    ("unknown_key", 8, f"{AT}.scirpt", "unknown key 'scirpt'; expected one of script, on"),
    ("missing_script", 6, f"{AT}.script", "name of a script in the allow-list; it is missing"),
    ("script_dotdot", 6, f"{AT}.script", "no '/' or '..'), got '../bin/sh'"),
    ("script_absolute", 6, f"{AT}.script", "got '/usr/bin/reboot'"),
    ("unknown_severity", 7, f"{AT}.on", "got ['urgent', 'critical']"),
    ("on_normal", 7, f"{AT}.on", "expected a list of harmless, caution, danger, urgent, fatal"),
    ("bad_timeout", 8, f"{AT}.timeout", "expected a duration like 30s, 5m, 1h"),
    ("timeout_too_long", 8, f"{AT}.timeout", "at most 1h, got 7200"),
    ("unknown_template_field", 8, f"{AT}.args[1]", "field one of host, item, instance, value"),
    ("lone_dollar", 8, f"{AT}.args[0]", "(and $$ for a literal $), got 'cost: 5$'"),
    ("args_not_a_list", 8, f"{AT}.args", "expected a list of argument templates"),
    ("newline_in_arg", 8, f"{AT}.args[0]", "expected no control characters"),
    ("bad_where", 8, f"{AT}.where", "expected one of agent, central, got 'remote'"),
    ("zero_attempts", 8, f"{AT}.max_attempts", "got 0"),
    ("dry_run_not_bool", 8, f"{AT}.dry_run", "expected true or false, got 'yes'"),
    ("duplicate_script", 7, "watches[0].remediate[1].script", "'restart-nginx' is twice"),
    ("not_a_list", 5, "watches[0].remediate", "expected a list of recovery bindings"),
]

GOOD = """
version: 1
use_defaults: false
watches:
  - name: nginx-up
    item: http.up
    levels: {urgent: "< 1"}
    remediate:
      - script: restart-nginx
        on: [urgent, fatal]
        args: ["${instance}", "--reason=${severity} at ${value}", "$$HOME"]
        where: agent
        timeout: 30s
        max_attempts: 2
        cooldown: 15m
      - {script: page-lb, on: [fatal], where: central, dry_run: true}
"""


def test_every_fixture_has_a_case() -> None:
    assert sorted(p.stem for p in FIXTURES.glob("*.yaml")) == sorted(c[0] for c in CASES)


@pytest.mark.parametrize(("name", "line", "path", "expected"), CASES, ids=[c[0] for c in CASES])
def test_error_names_file_line_path_and_expectation(
    name: str, line: int, path: str, expected: str
) -> None:
    with pytest.raises(PolicyError) as info:
        load_policy(FIXTURES / f"{name}.yaml")
    text = str(info.value)  # FILE:LINE: KEY PATH: what was expected
    assert text.startswith(f"{FIXTURES / name}.yaml:{line}: {path}: ")
    assert expected in text


def test_a_valid_binding_loads_round_trips_and_shows(tmp_path: Path) -> None:
    (tmp_path / "p.yaml").write_text(GOOD)
    policy = load_policy(tmp_path / "p.yaml")
    (watch,) = policy.watches
    first, second = watch.remediate
    assert first.on == (Severity.URGENT, Severity.FATAL)  # `on:` is YAML 1.1's true: mapped
    assert (first.timeout, first.cooldown, first.max_attempts) == (30.0, 900.0, 2)
    assert (second.where, second.dry_run, second.timeout) == ("central", True, 30.0)
    again = policy_from_plain(yaml.safe_load(yaml.safe_dump(policy_to_dict(policy))), "topic")
    assert again.watches[0].remediate == watch.remediate
    shown = watch_to_dict(watch)["remediate"]  # what `gamsi policy show` prints
    assert shown[0]["script"] == "restart-nginx"
    assert shown[0]["cooldown"] == "15m"
    assert "timeout" not in shown[0]  # at its default
    assert shown[1] == {"script": "page-lb", "on": ["fatal"], "where": "central", "dry_run": True}


def test_templates_render_one_literal_argv_element_each() -> None:
    fields = {
        "host": "web-1",
        "item": "http.up",
        "instance": "x; rm -rf / $(id) `id` | tee",
        "value": "0",
        "severity": "urgent",
        "watch": "nginx-up",
    }
    templates = ("${instance}", "--reason=${severity} at ${value}", "$$HOME", "${host}${host}")
    assert render_args(templates, fields) == [
        "x; rm -rf / $(id) `id` | tee",
        "--reason=urgent at 0",
        "$HOME",
        "web-1web-1",
    ]
    for bad in ("a\nb", "nul\x00", "bell\x07"):
        with pytest.raises(UnsafeValue):
            render_args(("${instance}",), {**fields, "instance": bad})
