"""Every channel module registers exactly one type; a duplicate name is an error."""

from __future__ import annotations

import ast
import importlib
import pkgutil
from pathlib import Path

import pytest

import gamsi.notifier.channels as channels_pkg
from gamsi.notifier.channels import (
    BUILTIN_MODULES,
    CHANNEL_TYPES,
    PermanentError,
    RetryableError,
    classify_status,
    load_channel_types,
    register,
)


def test_every_module_registers_exactly_one_channel() -> None:
    modules = [m.name for m in pkgutil.iter_modules(channels_pkg.__path__)]
    assert sorted(modules) == sorted(BUILTIN_MODULES)
    for name in modules:
        importlib.import_module(f"gamsi.notifier.channels.{name}")
        source = Path(channels_pkg.__path__[0], f"{name}.py").read_text()
        decorators = [
            node
            for node in ast.walk(ast.parse(source))
            if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "register"
        ]
        assert len(decorators) == 1, f"{name}.py registers {len(decorators)} channels"


def test_builtin_types() -> None:
    assert {"console", "slack", "email", "webhook", "sms", "kakao", "ntfy"} <= set(
        load_channel_types()
    )


def test_registering_a_name_twice_raises() -> None:
    load_channel_types()

    class Other:
        pass

    with pytest.raises(ValueError, match="'slack' is registered twice"):
        register("slack")(Other)  # type: ignore[arg-type]
    assert CHANNEL_TYPES["slack"].__name__ == "SlackChannel"


@pytest.mark.parametrize(
    ("status", "kind"),
    [(400, PermanentError), (404, PermanentError), (408, RetryableError), (429, RetryableError),
     (500, RetryableError), (503, RetryableError)],
)  # fmt: skip
def test_status_table(status: int, kind: type) -> None:
    assert type(classify_status(status, "x")) is kind
