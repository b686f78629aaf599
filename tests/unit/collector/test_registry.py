from __future__ import annotations

import ast
import importlib
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import gamsi.collector.inputs as inputs_pkg
from gamsi.collector.registry import (
    BUILTIN_INPUTS,
    INPUTS,
    DuplicateInputError,
    Input,
    build_inputs,
    load_inputs,
    register,
)
from gamsi.collector.replay import ReplayStats
from gamsi.schemas.records import Sample
from gamsi.settings import CollectorSettings, ConfigError


def test_every_input_module_registers_exactly_one_input_named_after_it() -> None:
    load_inputs()
    modules = sorted(m.name for m in pkgutil.iter_modules(inputs_pkg.__path__))
    assert sorted(BUILTIN_INPUTS) == modules
    for name in modules:
        source = Path(importlib.import_module(f"{inputs_pkg.__name__}.{name}").__file__ or "")
        calls = [
            node
            for node in ast.walk(ast.parse(source.read_text()))
            if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "register"
        ]
        assert len(calls) == 1, f"{source} registers {len(calls)} inputs"
        assert INPUTS[name].__module__ == f"{inputs_pkg.__name__}.{name}"


def test_registering_a_name_twice_fails() -> None:
    load_inputs()
    with pytest.raises(DuplicateInputError, match="'cpu' is registered twice"):

        @register("cpu")
        class Again(Input):
            pass


def test_a_custom_python_input_is_one_class_and_one_line(linux: ReplayStats) -> None:
    @register("test.queue_depth")
    class QueueDepth(Input):
        def collect(self, now: float) -> list[Sample]:
            return [Sample("app.queue_depth", 7.0)]

    try:
        config = CollectorSettings(inputs=["memory", "test.queue_depth"])
        built = build_inputs(config.inputs, linux, config)
        assert [type(i) for i in built][1] is QueueDepth
        assert built[1].collect(0.0) == [Sample("app.queue_depth", 7.0)]
    finally:
        del INPUTS["test.queue_depth"]


def test_unknown_input_names_the_setting_and_the_choices(linux: ReplayStats) -> None:
    config = CollectorSettings(inputs=["cpu", "cpuu"])
    with pytest.raises(ConfigError, match=r"\[collector\] inputs: unknown input\(s\) \['cpuu'\]"):
        build_inputs(config.inputs, linux, config)


def test_the_agent_never_imports_faust() -> None:
    code = (
        "import sys, gamsi.collector.agent, gamsi.collector.cli, gamsi.collector.psutil_stats;"
        "from gamsi.collector.registry import load_inputs; load_inputs();"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('faust', 'mode')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
