"""Every invalid case has its own fixture; the error names file, line, key path and expectation."""

from __future__ import annotations

from pathlib import Path

import pytest

from gamsi.streams.policy import PolicyError, load_policy

FIXTURES = Path(__file__).resolve().parents[3] / "fixtures" / "policies" / "invalid"

CASES = [
    # fixture, line, key path, what the message must say
    ("unknown_top_key", 2, "watchs", "unknown key 'watchs'; expected one of version"),
    ("unknown_watch_key", 4, "watches[0].threshhold", "unknown key 'threshhold'"),
    ("missing_item", 2, "watches[0].item", "expected a non-empty string; it is missing"),
    ("bad_severity_name", 5, "watches[0].levels.critical", "expected one of harmless, caution"),
    ("bad_level_syntax", 5, "watches[0].levels.urgent", "expected '<op> <number>'"),
    (
        "levels_not_monotone",
        6,
        "watches[0].levels.urgent",
        "expected a threshold above caution's 90",
    ),
    ("mixed_directions", 6, "watches[0].levels.urgent", "compare the same way"),
    ("bad_duration", 5, "watches[0].duration", "expected a duration like 30s, 5m"),
    ("aggregate_without_window", 5, "watches[0].aggregate", "expected a `window` to avg over"),
    ("window_count_with_duration", 7, "watches[0].duration", "use `count` alone"),
    ("unknown_aggregate", 6, "watches[0].aggregate", "expected one of avg, min, max, got 'median'"),
    (
        "recover_wrong_side",
        5,
        "watches[0].levels.urgent.recover",
        "at or below the raise threshold 90",
    ),
    ("bad_count", 5, "watches[0].count", "expected a whole number from 1 to 1,000,000, got 0"),
    ("nodata_bad_severity", 4, "watches[0].nodata.severity", "got 'normal'"),
    ("no_levels", 2, "watches[0].levels", "expected at least one level"),
    ("duplicate_key", 5, "watches[0].item", "this key is given twice"),
    ("duplicate_watch", 5, "watches[1].name", "'cpu' is already watches[0]"),
    ("override_unknown_watch", 2, "overrides[0].watch", "'cpu-bussy' is none of: agent-silent"),
    ("override_bad_key", 3, "overrides[0].set.item", "unknown key 'item'"),
    ("override_sets_hosts", 4, "overrides[0].set.hosts", "cannot change a watch's hosts"),
    (
        "override_replace_unmerged_key",
        5,
        "overrides[0].replace",
        "expected keys of `set` that would merge (levels, nodata, exclude, remediate), got 'clear'",
    ),
    ("override_removes_every_level", 5, "overrides[0].set.levels", "at least one level"),
    (
        "override_invalid_combo",
        4,
        "overrides[0].set.duration",
        "no duration with a counting window",
    ),
    (
        "unknown_processor",
        2,
        "processors.disk_fill",
        "expected a stream processor, one of disk_full",
    ),
    ("processor_bad_param", 2, "processors.disk_full.horizon", "unknown key 'horizon'"),
    ("not_yaml", 4, "", "expected valid YAML (while parsing a flow sequence"),
    ("hosts_bad_key", 7, "watches[0].hosts.groups", "expected one of names, globs, tags, os"),
    ("enabled_not_bool", 5, "watches[0].enabled", "expected true or false, got 'yes'"),
    ("version_2", 1, "version", "expected 1"),
]


def test_every_fixture_has_a_case():
    assert sorted(p.stem for p in FIXTURES.glob("*.yaml")) == sorted(c[0] for c in CASES)


@pytest.mark.parametrize(("name", "line", "path", "expected"), CASES, ids=[c[0] for c in CASES])
def test_error_names_file_line_path_and_expectation(name, line, path, expected):
    file = FIXTURES / f"{name}.yaml"
    with pytest.raises(PolicyError) as info:
        load_policy(file)
    err = info.value
    assert (err.source, err.line, err.path) == (str(file), line, path)
    assert expected in err.message
    assert str(err).startswith(f"{file}:{line}: {path or '(top)'}: ")


def test_a_missing_policy_path_says_so(tmp_path):
    with pytest.raises(PolicyError, match="expected a policy file or directory; it does not exist"):
        load_policy(tmp_path / "nope.yaml")


def test_an_empty_directory_says_so(tmp_path):
    with pytest.raises(PolicyError, match=r"expected a directory with \*.yaml policy files"):
        load_policy(tmp_path)
