"""Gamsi installs only the `gamsi` import name, and every package folder is shipped.

The design card keeps collector/, streams/, notifier/ and schemas/ at the top of
the repository; they install as gamsi.collector and so on (see pyproject.toml).
A folder added without a line in pyproject would work in an editable checkout and
vanish from the wheel, so this test compares the two.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _config() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]


def _folder_of(package: str, package_dir: dict[str, str]) -> Path:
    parts = package.split(".")
    for i in range(len(parts), 0, -1):
        prefix = ".".join(parts[:i])
        if prefix in package_dir:
            return ROOT / package_dir[prefix] / Path(*parts[i:])
    return ROOT / Path(*parts)


def test_every_declared_package_exists() -> None:
    conf = _config()
    for package in conf["packages"]:
        folder = _folder_of(package, conf["package-dir"])
        assert (folder / "__init__.py").is_file(), f"{package} -> {folder} has no __init__.py"


def test_every_package_folder_is_declared() -> None:
    conf = _config()
    declared = {_folder_of(p, conf["package-dir"]).resolve() for p in conf["packages"]}
    roots = {ROOT / d for d in conf["package-dir"].values()}
    on_disk = {
        init.parent.resolve()
        for root in roots
        for init in root.rglob("__init__.py")
        if "__pycache__" not in init.parts
    }
    missing = sorted(str(p.relative_to(ROOT)) for p in on_disk - declared)
    assert not missing, f"add these to [tool.setuptools] packages in pyproject.toml: {missing}"


def test_only_the_gamsi_name_is_installed() -> None:
    conf = _config()
    assert {p.split(".")[0] for p in conf["packages"]} == {"gamsi"}
