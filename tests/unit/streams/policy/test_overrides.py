"""An override is a patch: it changes what it names and keeps the rest (issue 9, item 14)."""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

import orjson
import pytest

from gamsi.schemas.records import Severity
from gamsi.settings import Settings
from gamsi.streams.policy import effective_watches, load_policy, policy_from_plain, policy_to_dict
from gamsi.streams.policy.overrides import merge_patch, patch_watch

README_EXAMPLE = (
    "overrides:\n  - {watch: cpu-busy, hosts: {tags: [batch]}, set: {levels: {danger: '>= 99'}}}\n"
)


def watch(policy, name, host="b-1", tags=("batch",)):
    (w,) = [
        e.watch
        for e in effective_watches(policy, host, "linux", list(tags))
        if e.watch.name == name
    ]
    return w


def levels(w):
    return [(lv.severity, lv.threshold, lv.recover) for lv in w.levels]


def policy_file(tmp_path: Path, text: str) -> Path:
    file = tmp_path / "p.yaml"
    file.write_text(text)
    return file


def test_readme_example_keeps_caution(tmp_path):
    w = watch(load_policy(policy_file(tmp_path, README_EXAMPLE)), "cpu-busy")
    assert levels(w) == [(Severity.CAUTION, 85.0, None), (Severity.DANGER, 99.0, None)]
    # hosts without the tag keep the default
    other = watch(load_policy(policy_file(tmp_path, README_EXAMPLE)), "cpu-busy", "w-1", ())
    assert levels(other) == [(Severity.CAUTION, 85.0, None), (Severity.DANGER, 95.0, None)]


def test_replace_levels_really_replaces(tmp_path):
    text = README_EXAMPLE.replace("}}}\n", "}}, replace: [levels]}\n")
    w = watch(load_policy(policy_file(tmp_path, text)), "cpu-busy")
    assert levels(w) == [(Severity.DANGER, 99.0, None)]


def test_a_level_can_be_removed_or_changed_in_part(tmp_path):
    text = (
        "overrides:\n  - watch: cpu-busy\n    set:\n"
        "      levels: {caution: null, danger: {recover: 90}, urgent: '>= 99'}\n"
    )
    w = watch(load_policy(policy_file(tmp_path, text)), "cpu-busy")
    assert levels(w) == [(Severity.DANGER, 95.0, 90.0), (Severity.URGENT, 99.0, None)]


def test_nodata_merges_too(tmp_path):
    # agent-silent's default is nodata {after: 60s, severity: urgent}
    text = "overrides:\n  - {watch: agent-silent, set: {nodata: {severity: danger}}}\n"
    w = watch(load_policy(policy_file(tmp_path, text)), "agent-silent")
    assert (w.nodata.after, w.nodata.severity) == (60.0, Severity.DANGER)


def test_exclude_adds_to_the_watchs_exclusions(tmp_path):
    text = "overrides:\n  - {watch: disk-inodes, set: {exclude: ['/data']}}\n"
    w = watch(load_policy(policy_file(tmp_path, text)), "disk-inodes")
    assert w.exclude[-1] == "/data"
    assert "/snap/*" in w.exclude  # the default's exclusions are kept
    assert not w.covers_instance("/snap/core/1")
    replaced = text.replace("]}}", "]}, replace: [exclude]}")
    w = watch(load_policy(policy_file(tmp_path, replaced)), "disk-inodes")
    assert w.exclude == ("/data",)


def test_stacked_overrides_merge_levels_in_order(tmp_path):
    text = (
        "overrides:\n"
        "  - {watch: cpu-busy, hosts: {tags: [a]}, set: {levels: {danger: '>= 97'}}}\n"
        "  - {watch: cpu-busy, hosts: {tags: [b]}, set: {levels: {urgent: '>= 99'}}}\n"
    )
    w = watch(load_policy(policy_file(tmp_path, text)), "cpu-busy", tags=("a", "b"))
    assert [lv.threshold for lv in w.levels] == [85.0, 97.0, 99.0]


def test_the_policy_topic_round_trip_keeps_replace(tmp_path):
    text = README_EXAMPLE.replace("}}}\n", "}}, replace: [levels]}\n")
    policy = load_policy(policy_file(tmp_path, text), "linux")
    again = policy_from_plain(orjson.loads(orjson.dumps(policy_to_dict(policy))))
    assert levels(watch(again, "cpu-busy")) == [(Severity.DANGER, 99.0, None)]
    assert again.overrides[-1].replace == ("levels",)


@pytest.mark.parametrize(
    ("target", "patch", "expected"),
    [
        ({"a": 1, "b": 2}, {"a": 3}, {"a": 3, "b": 2}),
        ({"a": {"x": 1, "y": 2}}, {"a": {"y": None}}, {"a": {"x": 1}}),
        ({"a": [1, 2]}, {"a": [3]}, {"a": [3]}),  # RFC 7386: a list is replaced
        ({"a": 1}, "text", "text"),
        (None, {"a": {"b": 1}}, {"a": {"b": 1}}),
    ],
)
def test_merge_patch_follows_rfc_7386(target, patch, expected):
    before = orjson.dumps(target)
    assert merge_patch(target, patch) == expected
    assert orjson.dumps(target) == before  # the target is not modified


def test_patch_watch_replaces_scalars_and_keeps_other_keys():
    base = {"name": "n", "item": "i", "levels": {"caution": {"op": ">", "value": 1}}, "count": 2}
    out = patch_watch(base, {"count": 3, "levels": {"danger": ">= 5"}}, ())
    assert out == {
        "name": "n",
        "item": "i",
        "levels": {"caution": {"op": ">", "value": 1}, "danger": ">= 5"},
        "count": 3,
    }
    assert base["count"] == 2


def test_show_host_prints_the_merged_levels(tmp_path, capsys):
    from gamsi.streams.policy import cli

    parser = argparse.ArgumentParser(prog="gamsi")
    cli.add_commands(parser.add_subparsers(dest="command", required=True))
    file = policy_file(tmp_path, README_EXAMPLE)
    base = Settings()
    settings = replace(base, paths=replace(base.paths, data_dir=str(tmp_path / "data")))
    argv = ["show", "--host", "b-1", "--os", "linux", "--tags", "batch", "--policy", str(file)]
    args = parser.parse_args(["policy", *argv, "--json"])
    assert args.handler(args, settings) == 0
    rows = {r["name"]: r for r in orjson.loads(capsys.readouterr().out)}
    assert rows["cpu-busy"]["levels"] == {
        "caution": {"op": ">=", "value": 85.0},
        "danger": {"op": ">=", "value": 99.0},
    }
    assert rows["cpu-busy"]["from"][-1] == f"overridden by {file}: overrides[0]"


def test_remediate_bindings_merge_by_script(tmp_path):
    text = (
        "watches:\n"
        "  - name: web\n    item: proc.up\n    levels: {fatal: '< 1'}\n    remediate:\n"
        "      - {script: restart-nginx, 'on': [fatal], cooldown: 10m}\n"
        "      - {script: page-oncall, 'on': [fatal]}\n"
        "overrides:\n"
        "  - watch: web\n    hosts: {tags: [batch]}\n    set:\n      remediate:\n"
        "        - {script: restart-nginx, cooldown: 1h}\n"
        "        - {script: clear-cache, 'on': [fatal]}\n"
    )
    w = watch(load_policy(policy_file(tmp_path, text)), "web")
    assert [(b.script, b.cooldown) for b in w.remediate] == [
        ("restart-nginx", 3600.0),
        ("page-oncall", 600.0),  # the default cooldown, untouched
        ("clear-cache", 600.0),
    ]
    replaced = text.replace("    set:\n", "    replace: [remediate]\n    set:\n").replace(
        "{script: restart-nginx, cooldown: 1h}", "{script: restart-nginx, 'on': [fatal]}"
    )
    w = watch(load_policy(policy_file(tmp_path, replaced)), "web")
    assert [(b.script, b.cooldown) for b in w.remediate] == [
        ("restart-nginx", 600.0),
        ("clear-cache", 600.0),
    ]


def test_an_override_with_a_bare_on_key_is_published_and_read_back(tmp_path):
    """YAML 1.1 reads `on:` as true; the override's patch must still travel as JSON."""
    from gamsi.streams.policy.feed import policy_record, read_policy_record

    text = (
        "watches:\n  - {name: web, item: proc.up, levels: {fatal: '< 1'}}\n"
        "overrides:\n  - watch: web\n    set:\n"
        "      remediate:\n        - {script: restart-nginx, on: [fatal]}\n"
    )
    policy = load_policy(policy_file(tmp_path, text), "linux")
    again, _ = read_policy_record(policy_record(policy, "p.yaml"))
    assert [b.script for b in watch(again, "web").remediate] == ["restart-nginx"]
