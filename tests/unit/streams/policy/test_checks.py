"""What `validate` and `apply` check beyond validity: items nothing reports, empty policies."""

from __future__ import annotations

from pathlib import Path

import pytest

from gamsi.cli import UserError
from gamsi.streams.policy import load_policy
from gamsi.streams.policy.checks import unknown_items, watches_nothing

TYPO = (
    "use_defaults: false\n"
    "watches:\n"
    "  - {name: mem, item: memory.used_pct, levels: {caution: '>= 80'}}\n"
    "  - {name: mem-typo, item: memroy.used_pct, levels: {caution: '>= 90'}}\n"
)


def write(tmp_path: Path, text: str, name: str = "p.yaml") -> Path:
    file = tmp_path / name
    file.write_text(text)
    return file


def test_a_watch_on_a_misspelt_item_is_found_with_its_line_and_a_suggestion(tmp_path):
    file = write(tmp_path, TYPO)
    lines: dict[str, dict[str, int]] = {}
    (finding,) = unknown_items(load_policy(file, "linux", lines), set(), lines)
    assert (finding.watch.name, finding.suggestion) == ("mem-typo", "memory.used_pct")
    assert str(finding).startswith(f"{file}:4: watches[1].item: 'memroy.used_pct' is no item")
    assert str(finding).endswith("did you mean 'memory.used_pct'?")


def test_items_some_host_reports_are_known_and_suggested(tmp_path):
    file = write(
        tmp_path,
        "watches:\n"
        "  - {name: q, item: app.queue_len, levels: {caution: '> 100'}}\n"
        "  - {name: q2, item: app.queue_lne, levels: {caution: '> 100'}}\n",
    )
    findings = unknown_items(load_policy(file), {"app.queue_len"})
    assert [(f.watch.name, f.suggestion) for f in findings] == [("q2", "app.queue_len")]
    # without the inventory, both custom items are unknown
    assert [f.watch.name for f in unknown_items(load_policy(file), None)] == ["q", "q2"]


def test_a_derived_item_needs_its_processor(tmp_path):
    text = (
        "use_defaults: false\nwatches:\n"
        "  - {name: f, item: disk.full_in_h, levels: {caution: '< 24'}}\n"
    )
    (finding,) = unknown_items(load_policy(write(tmp_path, text)), set())
    assert "derived by processor 'disk_full', which this policy does not enable" in str(finding)
    enabled = text.replace("watches:", "processors: {disk_full: {}}\nwatches:")
    assert unknown_items(load_policy(write(tmp_path, enabled)), set()) == []


def test_the_shipped_defaults_watch_only_known_items():
    assert unknown_items(load_policy(None, "linux"), None) == []


def test_validate_warns_and_strict_refuses(tmp_path, policy_cmd, capsys):
    file = write(tmp_path, TYPO)
    assert policy_cmd("validate", str(file)) == 0
    err = capsys.readouterr().err
    assert err.startswith("warning: ")
    assert "did you mean 'memory.used_pct'?" in err
    for command in ("validate", "apply"):  # apply refuses before it would publish
        with pytest.raises(UserError, match=r"refused \(--strict\): 1 watches on items"):
            policy_cmd(command, str(file), "--strict")


def test_an_item_reported_by_the_inventory_passes_strict(tmp_path, policy_cmd, capsys):
    text = "watches:\n  - {name: q, item: app.queue_len, levels: {caution: '> 100'}}\n"
    assert policy_cmd("validate", str(write(tmp_path, text)), "--strict") == 0
    assert "warning" not in capsys.readouterr().err


EMPTY_CASES = {
    "no watches": "use_defaults: false\nwatches: []\n",
    "all disabled": (
        "use_defaults: false\nwatches:\n"
        "  - {name: a, item: cpu.util, levels: {caution: '> 1'}, enabled: false}\n"
    ),
    "disabled by overrides everywhere": (
        "use_defaults: false\nwatches:\n"
        "  - {name: a, item: cpu.util, levels: {caution: '> 1'}}\n"
        "overrides:\n  - {watch: a, set: {enabled: false}}\n"
    ),
}


@pytest.mark.parametrize("text", EMPTY_CASES.values(), ids=EMPTY_CASES.keys())
def test_a_policy_that_watches_nothing_is_refused_unless_allowed(tmp_path, policy_cmd, text):
    file = write(tmp_path, text)
    assert watches_nothing(load_policy(file))
    for command in ("validate", "apply"):
        with pytest.raises(UserError, match="expected at least one enabled watch") as info:
            policy_cmd(command, str(file))
        assert "\n" not in str(info.value)
    assert policy_cmd("validate", str(file), "--allow-empty") == 0


@pytest.mark.parametrize(
    "text",
    [
        "watches: []\n",  # the OS defaults stay
        "use_defaults: false\nwatches:\n"
        "  - {name: a, item: cpu.util, levels: {caution: '> 1'}, enabled: false}\n"
        "overrides:\n  - {watch: a, hosts: {tags: [x]}, set: {enabled: true}}\n",
        "use_defaults: false\nwatches:\n"
        "  - {name: a, item: cpu.util, levels: {caution: '> 1'}}\n"
        "overrides:\n  - {watch: a, hosts: {tags: [x]}, set: {enabled: false}}\n",
    ],
    ids=["defaults", "enabled for some hosts", "disabled for some hosts"],
)
def test_a_policy_that_watches_something_somewhere_is_not_empty(tmp_path, text):
    assert not watches_nothing(load_policy(write(tmp_path, text)))
