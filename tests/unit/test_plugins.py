"""One plugin registry for inputs, processors and channels: same rules, same messages.

The meta-test checks what the style asks of every plugin package: each module in
it is listed as a built-in and registers exactly one plugin, named after the module.
"""

from __future__ import annotations

import pkgutil
import sys
from collections.abc import Iterator
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest

import gamsi.collector.inputs
import gamsi.notifier.channels
import gamsi.streams.rules.processors
from gamsi.collector.registry import REGISTRY as INPUTS
from gamsi.notifier.channels import REGISTRY as CHANNELS
from gamsi.plugins import DuplicatePluginError, PluginError, Registry
from gamsi.streams.rules.registry import REGISTRY as PROCESSORS

KINDS = {
    "inputs": (INPUTS, gamsi.collector.inputs),
    "processors": (PROCESSORS, gamsi.streams.rules.processors),
    "channels": (CHANNELS, gamsi.notifier.channels),
}


@pytest.mark.parametrize("kind", KINDS)
def test_every_plugin_module_is_listed_and_registers_exactly_one_plugin(kind: str) -> None:
    registry, package = KINDS[kind]
    on_disk = sorted(f"{package.__name__}.{m.name}" for m in pkgutil.iter_modules(package.__path__))
    assert sorted(registry.builtins) == on_disk
    registry.load_builtins()
    by_module = registry.modules()
    for module in on_disk:
        assert by_module.get(module) == [module.rsplit(".", 1)[1]], (
            f"{module} registers {by_module.get(module, [])}; expected one plugin named after it"
        )


@pytest.mark.parametrize("kind", KINDS)
def test_a_name_registered_twice_is_refused_with_the_same_message(kind: str) -> None:
    registry, _ = KINDS[kind]
    registry.load_builtins()
    name = sorted(registry.plugins)[0]
    first = registry.plugins[name]

    class Impostor:
        pass

    with registry.scoped(), pytest.raises(DuplicatePluginError) as info:
        registry.register(name)(Impostor)
    assert str(info.value) == (
        f"{registry.kind} {name!r} is registered twice: by "
        f"{first.__module__}.{first.__qualname__} and by {__name__}.{Impostor.__qualname__}"
    )
    assert registry.plugins[name] is first
    registry.register(name)(first)  # the same plugin again is not a duplicate


@pytest.fixture
def plugin_dir(tmp_path: Path) -> Iterator[Path]:
    """A folder on sys.path for throwaway plugin modules."""
    sys.path.insert(0, str(tmp_path))
    try:
        yield tmp_path
    finally:
        sys.path.remove(str(tmp_path))
        for name in [m for m in sys.modules if m.startswith("h5plug_")]:
            del sys.modules[name]


def _module(folder: Path, name: str, registry_path: str, registers: str) -> None:
    body = f"from {registry_path} import register\n"
    if registers:
        body += f"\n@register({registers!r})\nclass Plugin:\n    pass\n"
    (folder / f"{name}.py").write_text(body)


REGISTRY_MODULES = {
    "inputs": "gamsi.collector.registry",
    "processors": "gamsi.streams.rules.registry",
    "channels": "gamsi.notifier.channels",
}


@pytest.mark.parametrize("kind", KINDS)
def test_entry_points_name_a_module_or_its_plugin(kind: str, plugin_dir: Path) -> None:
    registry, _ = KINDS[kind]
    _module(plugin_dir, f"h5plug_{kind}_a", REGISTRY_MODULES[kind], "ext_a")
    _module(plugin_dir, f"h5plug_{kind}_b", REGISTRY_MODULES[kind], "ext_b")
    with registry.scoped():
        registry.load_entry_points(
            [
                EntryPoint("ext_a", f"h5plug_{kind}_a", registry.group),
                EntryPoint("ext_b", f"h5plug_{kind}_b:Plugin", registry.group),
            ]
        )
        assert registry.plugins["ext_a"].__module__ == f"h5plug_{kind}_a"
        assert registry.plugins["ext_b"].__module__ == f"h5plug_{kind}_b"
    assert "ext_a" not in registry.plugins


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    ("target", "registers", "expected"),
    [
        ("h5plug_{kind}_c", "", "expected its module to register a {what} named 'ext'"),
        ("h5plug_{kind}_c", "other", "(@register('ext')); it registers 'other'"),
        ("h5plug_{kind}_missing", "", "cannot load it: ModuleNotFoundError"),
        ("h5plug_{kind}_c:Nope", "ext", "cannot load it: AttributeError"),
    ],
)
def test_a_wrong_entry_point_is_one_clear_error(
    kind: str, target: str, registers: str, expected: str, plugin_dir: Path
) -> None:
    registry, _ = KINDS[kind]
    _module(plugin_dir, f"h5plug_{kind}_c", REGISTRY_MODULES[kind], registers)
    value = target.format(kind=kind)
    with registry.scoped(), pytest.raises(PluginError) as info:
        registry.load_entry_points([EntryPoint("ext", value, registry.group)])
    message = str(info.value)
    assert message.startswith(f"entry point ext = {value} (group {registry.group}): ")
    assert expected.format(what=registry.kind) in message


def test_empty_names_are_refused() -> None:
    with pytest.raises(PluginError, match="expected a name, got ''"):
        Registry("widget", "test.widgets", ()).register("")(object)


def test_the_name_is_written_once_by_the_decorator() -> None:
    registry: Registry[type] = Registry("widget", "test.widgets", (), name_attribute="name")

    @registry.register("gizmo")
    class Gizmo:
        name = ""

    assert Gizmo.name == "gizmo"


def test_scoped_keeps_builtins_first_imported_inside_it(plugin_dir: Path) -> None:
    (plugin_dir / "h5plug_reg.py").write_text(
        "from gamsi.plugins import Registry\nREG = Registry('widget', 'test.w', ['h5plug_w'])\n"
    )
    (plugin_dir / "h5plug_w.py").write_text(
        "from h5plug_reg import REG\n\n@REG.register('w')\nclass W:\n    pass\n"
    )
    from h5plug_reg import REG  # type: ignore[import-not-found]

    with REG.scoped():
        REG.load_builtins()
        REG.register("temporary")(object)
    assert sorted(REG.plugins) == ["w"]
    assert sorted(REG.load_builtins()) == ["w"]
