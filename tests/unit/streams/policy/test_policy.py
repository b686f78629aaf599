"""Loading, host matching, replacement, overrides, origins and the plain-dict round trip."""

from __future__ import annotations

from pathlib import Path

import pytest

from gamsi.schemas.records import Severity
from gamsi.streams.policy import (
    HostSelector,
    effective_watches,
    load_defaults,
    load_policy,
    policy_from_plain,
    policy_to_dict,
)
from gamsi.streams.policy.load import DEFAULT_OSES

SITE = Path(__file__).resolve().parents[3] / "fixtures" / "policies" / "valid" / "site.yaml"


def by_name(policy, host, os_name="linux", tags=()):
    return {e.watch.name: e for e in effective_watches(policy, host, os_name, list(tags))}


@pytest.mark.parametrize(
    ("selector", "host", "os_name", "tags", "expected"),
    [
        (HostSelector(), "any", "", [], True),
        (HostSelector(names=("web-1",)), "web-1", "linux", [], True),
        (HostSelector(names=("web-1",)), "web-2", "linux", [], False),
        (HostSelector(globs=("web-*",)), "web-2", "linux", [], True),
        (HostSelector(names=("db-1",), globs=("web-*",)), "db-1", "linux", [], True),
        (HostSelector(tags=("prod",)), "x", "linux", ["dev", "prod"], True),
        (HostSelector(tags=("prod",)), "x", "linux", ["dev"], False),
        (HostSelector(os=("windows",)), "x", "linux", [], False),
        (
            HostSelector(globs=("web-*",), tags=("prod",), os=("linux",)),
            "web-9",
            "linux",
            ["prod"],
            True,
        ),
        (
            HostSelector(globs=("web-*",), tags=("prod",), os=("linux",)),
            "web-9",
            "darwin",
            ["prod"],
            False,
        ),
    ],
)
def test_host_selector(selector, host, os_name, tags, expected):
    assert selector.matches(host, os_name, tags) is expected


def test_defaults_alone_apply_per_os():
    policy = load_policy(None, "linux")
    assert "cpu-iowait" in by_name(policy, "h", "linux")
    assert "cpu-iowait" not in by_name(policy, "h", "windows")
    assert "disk-inodes" not in by_name(policy, "h", "darwin")
    assert "cpu-iowait" in by_name(policy, "h", "")  # unknown OS: the default_os
    assert by_name(policy, "h", "plan9") == {}


def test_a_later_watch_with_the_same_name_replaces_the_default_for_its_hosts_only():
    policy = load_policy(SITE)
    db, web = by_name(policy, "db-1")["disk-space"], by_name(policy, "web-1")["disk-space"]
    assert db.watch.levels[0].threshold == 75
    assert web.watch.levels[0].threshold == 85
    assert db.origins == ("defaults/linux.yaml: watches[7]", f"replaced by {SITE}: watches[0]")
    assert web.origins == ("defaults/linux.yaml: watches[7]",)


def test_overrides_change_some_fields_for_some_hosts_and_say_so():
    policy = load_policy(SITE)
    batch = by_name(policy, "b-1", tags=["batch"])["cpu-busy"]
    # README's example: danger changes, caution stays (an override is a patch, issue 9 #14)
    assert [(lv.severity, lv.threshold) for lv in batch.watch.levels] == [
        (Severity.CAUTION, 85.0),
        (Severity.DANGER, 99.0),
    ]
    assert batch.watch.clear == 600.0
    assert batch.watch.window == 300.0
    assert batch.origins[-1] == f"overridden by {SITE}: overrides[0]"
    assert not by_name(policy, "legacy-1")["swap-used"].watch.enabled
    assert by_name(policy, "legacy-2")["swap-used"].watch.enabled


def test_two_overrides_stack(tmp_path):
    file = tmp_path / "p.yaml"
    file.write_text(
        "overrides:\n"
        "  - {watch: cpu-busy, hosts: {tags: [a]}, set: {clear: 10m}}\n"
        "  - {watch: cpu-busy, hosts: {tags: [b]}, set: {hysteresis: 1}}\n"
    )
    w = by_name(load_policy(file), "h", tags=["a", "b"])["cpu-busy"].watch
    assert (w.clear, w.hysteresis) == (600.0, 1.0)


def test_use_defaults_false_leaves_only_the_users_watches(tmp_path):
    file = tmp_path / "p.yaml"
    file.write_text(
        "use_defaults: false\nwatches:\n  - {name: a, item: x, levels: {caution: '> 1'}}\n"
    )
    assert list(by_name(load_policy(file), "h")) == ["a"]


def test_a_directory_and_multi_document_files_load_in_order(tmp_path):
    (tmp_path / "10-base.yaml").write_text(
        "watches:\n  - {name: a, item: x, levels: {caution: '> 1'}}\n"
        "---\nwatches:\n  - {name: b, item: y, levels: {caution: '> 1'}}\n"
    )
    (tmp_path / "20-site.yaml").write_text(
        "watches:\n  - {name: a, item: x, levels: {caution: '> 5'}}\n"
    )
    (tmp_path / "notes.txt").write_text("ignored")
    eff = by_name(load_policy(tmp_path), "h")
    assert eff["a"].watch.levels[0].threshold == 5
    assert eff["a"].origins[0] == f"{tmp_path / '10-base.yaml'}#1: watches[0]"
    assert eff["b"].origins == (f"{tmp_path / '10-base.yaml'}#2: watches[0]",)


def test_plain_dict_round_trip_keeps_every_watch_and_override():
    policy = load_policy(SITE, "linux")
    again = policy_from_plain(policy_to_dict(policy))
    assert again.watches == policy.watches
    assert again.default_os == "linux"
    assert again.processors == policy.processors
    for host, tags in (("db-1", []), ("b-1", ["batch"]), ("legacy-1", []), ("w", ["web"])):
        assert [e.watch for e in effective_watches(again, host, "linux", tags)] == [
            e.watch for e in effective_watches(policy, host, "linux", tags)
        ]


def test_every_shipped_default_loads_and_names_its_reason():
    policy = load_defaults()
    assert {os for w in policy.watches for os in w.hosts.os} == set(DEFAULT_OSES)
    assert all(w.description for w in policy.watches)


def test_docs_defaults_lists_every_default_watch():
    doc = (Path(__file__).resolve().parents[4] / "docs" / "defaults.md").read_text()
    missing = {w.name for w in load_defaults().watches if f"`{w.name}`" not in doc}
    assert not missing, f"docs/defaults.md does not describe {sorted(missing)}"
