"""Stream processors: derived items computed from samples, one file + one registration each.

A processor turns the samples of its input item into samples of a new item on the
same instance (``disk.used_pct`` → ``disk.full_in_h``). The new item goes through
the same watches as collected ones, so durations, hysteresis, no-data and the
unregistered-items report work for it unchanged. A processor is pure: it gets its
own previous state (plain JSON types) and the event time, never the wall clock.

Built-in processors register with :func:`register_processor` in their own module;
other packages declare an entry point in the group ``gamsi.stream_processors``
pointing at their class (importing the module registers it).
"""

from __future__ import annotations

from importlib.metadata import entry_points
from typing import Any, ClassVar, TypeVar

from gamsi.streams.policy.values import Reader, join

ENTRY_POINT_GROUP = "gamsi.stream_processors"


class DuplicatePluginError(RuntimeError):
    """Two processors claim the same name; the second would silently shadow the first."""


class StreamProcessor:
    """Base class: set the class attributes, validate params in ``__init__``, write ``derive``."""

    name: ClassVar[str]
    input: ClassVar[str]
    output: ClassVar[str]
    params: ClassVar[tuple[str, ...]] = ()

    def __init__(self, r: Reader, params: dict[str, Any], path: str) -> None:
        r.mapping(params, path, self.params)

    def derive(self, state: Any, ts: float, value: float) -> tuple[Any, float | None]:
        """Fold one input sample into ``state``; return the new state and the output value."""
        raise NotImplementedError


PROCESSORS: dict[str, type[StreamProcessor]] = {}
_loaded = False

P = TypeVar("P", bound=type[StreamProcessor])


def register_processor(cls: P) -> P:
    """Class decorator: make ``cls`` available to policies under ``cls.name``."""
    if cls.name in PROCESSORS and PROCESSORS[cls.name] is not cls:
        raise DuplicatePluginError(
            f"stream processor {cls.name!r} is registered twice: "
            f"{PROCESSORS[cls.name].__module__} and {cls.__module__}"
        )
    PROCESSORS[cls.name] = cls
    return cls


def load_processors() -> dict[str, type[StreamProcessor]]:
    """The built-ins plus every ``gamsi.stream_processors`` entry point (loaded once)."""
    global _loaded
    if not _loaded:
        import gamsi.streams.rules.processors  # noqa: F401 - registers the built-ins

        for ep in entry_points(group=ENTRY_POINT_GROUP):
            cls = ep.load()
            register_processor(cls)
        _loaded = True
    return PROCESSORS


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
