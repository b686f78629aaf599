"""Collector inputs: the base class, the registry and how inputs are found.

An input is one file that ends its class with ``@register("name")``, like
Telegraf's ``inputs.Add("mem", ...)``. Built-ins are listed by module name
below (no folder scanning); other packages add inputs through the
``gamsi.collector_inputs`` entry point group, whose targets are modules or
classes that call :func:`register` when imported. A name registered twice is
an error at import time, never a silent override.

Lifecycle: ``init()`` validates and raises :class:`~gamsi.settings.ConfigError`
(naming the setting and what was expected) -> ``collect(now)`` every tick,
where ``now`` is a monotonic timestamp for rates -> ``close()``.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from typing import ClassVar

from gamsi.collector.stats import SystemStats
from gamsi.schemas.records import Sample
from gamsi.settings import CollectorSettings, ConfigError

log = logging.getLogger("gamsi.collector")

ENTRY_POINT_GROUP = "gamsi.collector_inputs"

BUILTIN_INPUTS = (
    "cpu",
    "load",
    "memory",
    "swap",
    "disk",
    "diskio",
    "net",
    "proc",
    "system",
    "fd",
    "clock",
    "command",
)
"""Modules of gamsi.collector.inputs; each registers the input of the same name."""


class Input:
    """Base of every input: keeps the stats source and the collector settings."""

    name: ClassVar[str] = ""

    def __init__(self, stats: SystemStats, config: CollectorSettings) -> None:
        self.stats = stats
        self.config = config
        self._warned: dict[str, str] = {}

    def warn_once(self, key: str, message: str) -> None:
        """Log a problem the first time it happens (not every tick while it lasts)."""
        if self._warned.get(key) != message:
            self._warned[key] = message
            log.warning("input %s: %s", self.name, message)

    def recovered(self, key: str) -> None:
        """Forget a logged problem, saying so, so that its return is logged again."""
        if self._warned.pop(key, None) is not None:
            log.info("input %s: %s works again", self.name, key)

    def init(self) -> None:
        """Validate settings and the platform; raise ConfigError with an actionable message."""

    def collect(self, now: float) -> list[Sample]:
        """This tick's samples; ``now`` is monotonic seconds (rates divide by its deltas)."""
        raise NotImplementedError

    def close(self) -> None:
        """Release what init() took."""


INPUTS: dict[str, type[Input]] = {}


class DuplicateInputError(ValueError):
    """Two inputs claim the same name."""


def register(name: str) -> Callable[[type[Input]], type[Input]]:
    """Class decorator: make an input available under ``name``."""

    def add(cls: type[Input]) -> type[Input]:
        if name in INPUTS:
            raise DuplicateInputError(
                f"collector input {name!r} is registered twice: by {INPUTS[name].__module__} "
                f"and by {cls.__module__}"
            )
        cls.name = name
        INPUTS[name] = cls
        return cls

    return add


_loaded = False


def _load_builtins() -> None:
    for module in BUILTIN_INPUTS:
        importlib.import_module(f"gamsi.collector.inputs.{module}")


def load_inputs() -> dict[str, type[Input]]:
    """Import the built-in inputs and the entry-point ones (once); return the registry."""
    global _loaded
    if not _loaded:
        # importlib.metadata costs the resident agent ~1.7 MiB (email, zipfile, csv):
        # it is only read when a configured name is not built in.
        from importlib.metadata import entry_points

        _load_builtins()
        for ep in entry_points(group=ENTRY_POINT_GROUP):
            ep.load()
        _loaded = True
    return INPUTS


def build_inputs(names: list[str], stats: SystemStats, config: CollectorSettings) -> list[Input]:
    """Instantiate and init() the configured inputs, in order."""
    _load_builtins()
    available = INPUTS if set(names) <= set(INPUTS) else load_inputs()
    unknown = [n for n in names if n not in available]
    if unknown:
        raise ConfigError(
            f"[collector] inputs: unknown input(s) {unknown}; expected names from "
            f"{sorted(available)}"
        )
    built: list[Input] = []
    try:
        for name in names:
            inp = available[name](stats, config)
            inp.init()
            built.append(inp)
    except BaseException:
        for inp in built:
            inp.close()
        raise
    return built
