"""docs/extending.md's plugin package is real: its files are the doc's code, and its tests pass.

The example under examples/plugin/ is "installed" the way an installer would make it
visible to ``importlib.metadata`` (a ``.dist-info`` folder holding the entry points
of its pyproject.toml, its ``src`` on the path), then its own test suite runs in a
fresh interpreter: the entry points, the three plugins and ``gamsi.testing`` together.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "plugin"
DOC = ROOT / "docs" / "extending.md"
BLOCK = re.compile(r"```(?:python|toml)\n(# (examples/plugin/\S+)\n.*?)```", re.S)


def test_every_example_file_is_shown_in_the_doc_exactly() -> None:
    shown = {path: code for code, path in BLOCK.findall(DOC.read_text())}
    files = {
        str(p.relative_to(ROOT)): p.read_text()
        for p in sorted(EXAMPLE.rglob("*"))
        if p.suffix in (".py", ".toml") and "__pycache__" not in p.parts
    }
    assert sorted(shown) == sorted(files)
    for path, code in files.items():
        assert shown[path] == code, f"docs/extending.md shows an outdated {path}"


def _install(target: Path) -> None:
    """What pip would leave behind for the entry points: a dist-info with entry_points.txt."""
    project = tomllib.loads((EXAMPLE / "pyproject.toml").read_text())["project"]
    info = target / f"{project['name'].replace('-', '_')}-{project['version']}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {project['name']}\nVersion: {project['version']}\n"
    )
    groups = project["entry-points"]
    (info / "entry_points.txt").write_text(
        "".join(
            f"[{group}]\n" + "".join(f"{name} = {value}\n" for name, value in eps.items())
            for group, eps in groups.items()
        )
    )


def test_the_example_package_passes_its_own_tests(tmp_path: Path) -> None:
    site = tmp_path / "site"
    _install(site)
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(site), str(EXAMPLE / "src")]),
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"],
        cwd=EXAMPLE,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert re.search(r"\b5 passed\b", run.stdout), run.stdout[-1000:]
