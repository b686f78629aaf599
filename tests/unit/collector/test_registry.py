"""Collector inputs: one class and one line; unknown names are a config error.

The registry's own rules (duplicates, entry points, one plugin per module) are
tested once for every kind of plugin in tests/unit/test_plugins.py.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from gamsi.collector.registry import INPUTS, REGISTRY, Input, build_inputs, register
from gamsi.collector.replay import ReplayStats
from gamsi.schemas.records import Sample
from gamsi.settings import CollectorSettings, ConfigError
from tests.unit.collector.conftest import LINUX


def test_a_custom_python_input_is_one_class_and_one_line(linux: ReplayStats) -> None:
    with REGISTRY.scoped():

        @register("test.queue_depth")
        class QueueDepth(Input):
            def collect(self, now: float) -> list[Sample]:
                return [Sample("app.queue_depth", 7.0)]

        config = CollectorSettings(inputs=["memory", "test.queue_depth"])
        built = build_inputs(config.inputs, linux, config)
        assert [type(i) for i in built][1] is QueueDepth
        assert built[1].name == "test.queue_depth"
        assert built[1].collect(0.0) == [Sample("app.queue_depth", 7.0)]
    assert "test.queue_depth" not in INPUTS


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


def test_built_in_inputs_never_read_entry_points() -> None:
    """importlib.metadata costs the resident agent ~1.7 MiB; only an unknown name reads it."""
    code = (
        "import sys; from gamsi.collector.registry import build_inputs;"
        "from gamsi.collector.replay import ReplayStats;"
        "from gamsi.settings import CollectorSettings;"
        f"c = CollectorSettings(); build_inputs(c.inputs, ReplayStats.load({str(LINUX)!r}), c);"
        "print('importlib.metadata' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
