"""Collector inputs: the base class, the registry and how inputs are found.

An input is one file that ends its class with ``@register("name")``, like
Telegraf's ``inputs.Add("mem", ...)``. Built-ins are listed by module name
below (no folder scanning); other packages add inputs through the
``gamsi.collector_inputs`` entry point group, whose targets are modules or
classes that call :func:`register` when imported. The rules (a name registered
twice is an error, never a silent override; how entry points load) are those of
every Gamsi plugin: :mod:`gamsi.plugins`.

Lifecycle: ``init()`` validates and raises :class:`~gamsi.config_fields.ConfigError`
(naming the setting and what was expected) -> ``collect(now)`` every tick,
where ``now`` is a monotonic timestamp for rates -> ``close()``.
"""

from __future__ import annotations

import logging
from typing import ClassVar

from gamsi.collector.config import CollectorSettings
from gamsi.collector.stats import SystemStats
from gamsi.config_fields import ConfigError
from gamsi.plugins import Registry
from gamsi.schemas.records import Sample

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


REGISTRY: Registry[type[Input]] = Registry(
    "collector input", ENTRY_POINT_GROUP, [f"{__package__}.inputs.{m}" for m in BUILTIN_INPUTS]
)
REGISTRY.name_attribute = "name"  # @register("cpu") sets Input.name
INPUTS, register, load_inputs = REGISTRY.plugins, REGISTRY.register, REGISTRY.load
"""Inputs by name; ``@register("name")``; ``load_inputs()``: built-ins and entry points."""


def build_inputs(names: list[str], stats: SystemStats, config: CollectorSettings) -> list[Input]:
    """Instantiate and init() the configured inputs, in order."""
    REGISTRY.load_builtins()
    # Entry points (and importlib.metadata) only when a configured name is not built in.
    available = INPUTS if set(names) <= set(INPUTS) else REGISTRY.load()
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
