"""Hostile policy files (issue 10, section 2): bounded, one clear line, validate == apply.

Small cases are fixture files in tests/fixtures/policies/hostile/; the large ones
(100,000 watches, a 1 MB name, a file over 1 MiB, a policy too big for its record)
are written by the builders below rather than kept in the repository.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import settings as hyp_settings
from hypothesis import strategies as st

from gamsi.cli import UserError
from gamsi.streams.policy import PolicyError, load_policy

FIXTURES = Path(__file__).resolve().parents[3] / "fixtures" / "policies"
HOSTILE = FIXTURES / "hostile"
EXAMPLES = Path(__file__).resolve().parents[4] / "examples" / "policies"


def many_watches(tmp: Path) -> Path:
    """100,000 watches in a 400 kB file: one watch and 100,000 aliases of it."""
    file = tmp / "many_watches.yaml"
    aliases = ", ".join(["*w"] * 99_999)
    file.write_text(
        "overrides: []\nwatches: [&w {name: w, item: cpu.util, levels: {caution: '> 1'}}, "
        f"{aliases}]\n"
    )
    return file


def long_name(tmp: Path) -> Path:
    """A watch whose name is 1,000,000 characters."""
    file = tmp / "long_name.yaml"
    file.write_text(f"watches:\n  - name: {'x' * 1_000_000}\n    item: cpu.util\n")
    return file


def huge_file(tmp: Path) -> Path:
    """A 2 MiB file (a comment)."""
    file = tmp / "huge.yaml"
    file.write_text("# " + "x" * (2 << 20) + "\nwatches: []\n")
    return file


def record_too_big(tmp: Path) -> Path:
    """A directory of three valid files whose 9,000 watches do not fit in one record."""
    folder = tmp / "big"
    folder.mkdir()
    for n in range(3):
        rows = "".join(
            f"  - {{name: w{n}-{i}, item: cpu.util, levels: {{caution: '> {i}'}}, "
            f"hosts: {{names: [host-{n}-{i}]}}}}\n"
            for i in range(3000)
        )
        (folder / f"{n}.yaml").write_text(f"watches:\n{rows}")
    return folder


def fixture(name: str) -> Callable[[Path], Path]:
    return lambda tmp: HOSTILE / f"{name}.yaml"


CASES: list[tuple[str, Callable[[Path], Path], int | None, str]] = [
    # case, how to get the file, line or None, what the one-line message must say
    ("billion_laughs", fixture("billion_laughs"), 15, "levels.caution: expected a mapping"),
    (
        "billion_laughs_override",
        fixture("billion_laughs_override"),
        13,
        "set.levels.caution.a: unknown key 'a'",
    ),
    (
        "billion_laughs_remediate",
        fixture("billion_laughs_remediate"),
        20,
        "remediate[0].args: expected a list of argument templates",
    ),
    ("count_1e20", fixture("count_1e20"), 5, "count: expected a whole number from 1 to 1,000,000"),
    ("not_utf8", fixture("not_utf8"), 3, "expected UTF-8 text; byte 0xe9 is not"),
    ("deep_nesting", fixture("deep_nesting"), 2, "exceeded maximum nesting depth"),
    ("huge_integer", fixture("huge_integer"), None, "expected valid YAML (Exceeds the limit"),
    ("huge_threshold", fixture("huge_threshold"), 5, "value: expected a finite number"),
    ("duration_5000_years", fixture("duration_5000_years"), 4, "at most 366d, got 1825000d"),
    ("many_watches", many_watches, 2, "watches: expected at most 10,000 watches"),
    ("long_name", long_name, 2, "name: expected at most 200 characters, got 1,000,000"),
    ("huge_file", huge_file, None, "expected a policy file of at most 1,048,576 bytes"),
    ("record_too_big", record_too_big, None, "expected a policy of at most 1,000,000 bytes"),
]


def test_every_hostile_fixture_has_a_case():
    named = {c[0] for c in CASES}
    assert {p.stem for p in HOSTILE.glob("*.yaml")} <= named


@pytest.mark.parametrize(("case", "build", "line", "expected"), CASES, ids=[c[0] for c in CASES])
def test_validate_and_apply_refuse_with_the_same_one_line(
    case, build, line, expected, tmp_path, policy_cmd
):
    file = build(tmp_path)
    messages = []
    for command in ("validate", "apply"):
        with pytest.raises(UserError) as info:
            policy_cmd(command, str(file))
        messages.append(str(info.value))
    assert messages[0] == messages[1]
    message = messages[0]
    assert "\n" not in message
    assert len(message) < 500
    where = f"{file}:{line}: " if line else f"{file}"
    assert message.startswith(where), message
    assert expected in message
    assert policy_cmd.published == []


def _every_policy_file() -> list[Path]:
    return sorted([*FIXTURES.glob("*/*.yaml"), *EXAMPLES.glob("*.yaml")])


@pytest.mark.parametrize("file", _every_policy_file(), ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_validate_accepts_exactly_what_apply_accepts(file, policy_cmd):
    outcomes = []
    for command in ("validate", "apply"):
        try:
            outcomes.append(("ok", policy_cmd(command, str(file))))
        except UserError as exc:
            outcomes.append(("refused", str(exc)))
    assert outcomes[0] == outcomes[1]
    assert len(policy_cmd.published) == (1 if outcomes[1][0] == "ok" else 0)


def _limit_memory() -> None:
    limit = 1 << 30  # 1 GiB: an expanded billion laughs needs far more
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


@pytest.mark.parametrize(
    "name", ["billion_laughs", "billion_laughs_override", "billion_laughs_remediate"]
)
def test_a_billion_laughs_is_refused_in_bounded_memory(name, tmp_path):
    """The real command line, in a process capped at 1 GiB (a hang fails on the bound)."""
    env = {**os.environ, "GAMSI_STREAMS_INVENTORY_FILE": os.devnull}
    done = subprocess.run(
        [sys.executable, "-m", "gamsi", "policy", "validate", str(HOSTILE / f"{name}.yaml")],
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=_limit_memory,
        env=env,
        cwd=tmp_path,  # no ./gamsi.toml
        check=False,
    )
    assert done.returncode == 2, done.stderr[-2000:]
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith(f"gamsi: error: {HOSTILE / name}.yaml:")


TEXT = st.text(st.characters(codec="utf-8"), max_size=200)
YAMLISH = st.lists(
    st.sampled_from(
        [
            "watches:",
            "\n  - ",
            "name: a",
            "item: cpu.util",
            "{",
            "}",
            "[",
            "]",
            ": ",
            "&a ",
            "*a",
            "levels: {caution: '> 1'}",
            "overrides:",
            "set:",
            "- ",
            "\n",
            "    ",
            "!!str ",
            "count: 99999999999999999999",
            "<<: *a",
            "---",
            "? ",
            "'",
            '"',
            "\t",
        ]
    ),
    max_size=40,
).map("".join)


@hyp_settings(max_examples=300, deadline=None)
@given(st.one_of(TEXT, YAMLISH))
def test_any_text_loads_or_is_one_policy_error_line(text):
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        file = Path(tmp) / "p.yaml"
        file.write_text(text, encoding="utf-8")
        error = ""
        try:
            load_policy(file)
        except PolicyError as exc:
            error = str(exc)
    assert "\n" not in error
