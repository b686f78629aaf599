"""Stream processors: derived items computed from samples, one file + one registration each.

A processor turns the samples of its input item into samples of a new item on the
same instance (``disk.used_pct`` → ``disk.full_in_h``). The new item goes through
the same watches as collected ones, so durations, hysteresis, no-data and the
unregistered-items report work for it unchanged. A processor is pure: it gets its
own previous state (plain JSON types) and the event time, never the wall clock.

Built-in processors register with ``@register("name")`` in their own module;
other packages declare an entry point in the group ``gamsi.stream_processors``
pointing at their module or class (importing the module registers it). The rules
are those of every Gamsi plugin: :mod:`gamsi.plugins`.
"""

from __future__ import annotations

from typing import Any, ClassVar

from gamsi.plugins import DuplicatePluginError, Registry
from gamsi.streams.policy.values import Reader, join

ENTRY_POINT_GROUP = "gamsi.stream_processors"


class StreamProcessor:
    """Base class: set the class attributes, validate params in ``__init__``, write ``derive``.

    ``name`` is set by ``@register``; ``input`` is the item it reads, ``output`` the
    item it emits on the same host and instance, ``params`` the keys it accepts.
    """

    name: ClassVar[str] = ""
    input: ClassVar[str]
    output: ClassVar[str]
    params: ClassVar[tuple[str, ...]] = ()

    def __init__(self, r: Reader, params: dict[str, Any], path: str) -> None:
        r.mapping(params, path, self.params)

    def derive(self, state: Any, ts: float, value: float) -> tuple[Any, float | None]:
        """Fold one input sample into ``state``; return the new state and the output value."""
        raise NotImplementedError


REGISTRY: Registry[type[StreamProcessor]] = Registry(
    "stream processor", ENTRY_POINT_GROUP, [f"{__package__}.processors.disk_full"]
)
REGISTRY.name_attribute = "name"  # @register("disk_full") sets StreamProcessor.name
PROCESSORS, register, load_processors = REGISTRY.plugins, REGISTRY.register, REGISTRY.load
"""Processors by name; ``@register("name")``; ``load_processors()``: built-ins, entry points."""


def check_processors(r: Reader, processors: dict[str, dict[str, Any]]) -> None:
    """Every named processor exists and accepts its parameters (errors name the key)."""
    known = load_processors()
    for name, params in processors.items():
        path = join("processors", name)
        if name not in known:
            raise r.fail(path, f"expected a stream processor, one of {', '.join(sorted(known))}")
        known[name](r, params, path)


def build_processors(processors: dict[str, dict[str, Any]]) -> list[StreamProcessor]:
    """Instances for a validated policy's ``processors`` section."""
    known = load_processors()
    r = Reader("<policy>")
    return [known[name](r, params, join("processors", name)) for name, params in processors.items()]


__all__ = [
    "DuplicatePluginError",
    "StreamProcessor",
    "build_processors",
    "check_processors",
    "load_processors",
    "register",
]
