"""The watch policy as typed, immutable values.

A policy is data, not code: the loader (:mod:`gamsi.streams.policy.load`) turns YAML
or plain dicts into these records after strict validation, the matcher
(:mod:`gamsi.streams.policy.match`) picks the watches that apply to one host, and
the rule engine compiles each watch once. Nothing here imports Kafka or Faust,
and every record can go back to a plain dict (:mod:`gamsi.streams.policy.dump`)
so a policy can travel on a compacted topic.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fnmatch import fnmatchcase

from gamsi.schemas.records import Severity
from gamsi.streams.policy.remediate import Binding

UPWARD_OPS = (">", ">=")
DOWNWARD_OPS = ("<", "<=")
OPS = UPWARD_OPS + DOWNWARD_OPS
AGGREGATES = ("avg", "min", "max")
HEARTBEAT_ITEM = "agent.heartbeat"
"""Pseudo item the engine feeds with 1.0 on every batch, so a watch can notice a silent agent."""


@dataclass(frozen=True, slots=True)
class Level:
    """One severity of a watch: raised when ``value op threshold`` holds.

    ``recover`` is the recovery threshold: the level is held until the value is on
    the other side of it (Zabbix's recovery expression). None means "the raise
    threshold minus the watch's hysteresis".
    """

    severity: Severity
    op: str
    threshold: float
    recover: float | None = None

    @property
    def upward(self) -> bool:
        return self.op in UPWARD_OPS


@dataclass(frozen=True, slots=True)
class NoData:
    """A silent series is a condition too: raise ``severity`` after ``after`` seconds."""

    after: float
    severity: Severity


@dataclass(frozen=True, slots=True)
class HostSelector:
    """Which servers a watch applies to. Empty lists do not restrict.

    A host matches when its name is in ``names`` or matches one of ``globs`` (if any
    are given), AND it carries one of ``tags`` (if any), AND its OS is in ``os`` (if any).
    """

    names: tuple[str, ...] = ()
    globs: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    os: tuple[str, ...] = ()

    def matches(self, host: str, os_name: str, tags: tuple[str, ...] | list[str]) -> bool:
        if (self.names or self.globs) and not (
            host in self.names or any(fnmatchcase(host, g) for g in self.globs)
        ):
            return False
        if self.tags and not any(t in self.tags for t in tags):
            return False
        return not (self.os and os_name not in self.os)

    @property
    def everywhere(self) -> bool:
        return not (self.names or self.globs or self.tags or self.os)


@dataclass(frozen=True, slots=True)
class Watch:
    """One watch (감시 설정): an item, the hosts it applies to and how to judge it."""

    name: str
    item: str
    levels: tuple[Level, ...] = ()
    instance: str = "*"
    exclude: tuple[str, ...] = ()
    hosts: HostSelector = field(default_factory=HostSelector)
    duration: float = 0.0
    count: int = 1
    window: float = 0.0
    aggregate: str = ""
    hysteresis: float = 0.0
    clear: float = 0.0
    nodata: NoData | None = None
    enabled: bool = True
    description: str = ""
    origin: str = ""
    remediate: tuple[Binding, ...] = ()
    """Recovery scripts bound to this watch's severities (streams/policy/remediate.py)."""

    def covers_instance(self, instance: str) -> bool:
        """Does this watch judge ``instance`` of its item (glob match, minus exclusions)?"""
        return fnmatchcase(instance, self.instance) and not any(
            fnmatchcase(instance, x) for x in self.exclude
        )

    def recovery_threshold(self, level: Level) -> float:
        """Where ``level`` clears: its own ``recover`` or the threshold minus hysteresis."""
        if level.recover is not None:
            return level.recover
        return (
            level.threshold - self.hysteresis if level.upward else level.threshold + self.hysteresis
        )

    @property
    def top(self) -> Severity:
        return max((lv.severity for lv in self.levels), default=Severity.NORMAL)


@dataclass(frozen=True, slots=True)
class Override:
    """Change some fields of a named watch for the hosts ``hosts`` selects.

    ``changes`` is a patch: ``levels``, ``nodata`` and ``exclude`` merge into the
    watch's unless ``replace`` names them (:mod:`gamsi.streams.policy.overrides`).
    ``variants`` maps the origin of each watch with that name to the watch with
    the changes applied; the loader validates every variant, so applying an
    override at match time can never fail.
    """

    watch: str
    hosts: HostSelector
    changes: dict[str, object]
    origin: str
    variants: dict[str, Watch] = field(default_factory=dict, compare=False)
    replace: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Policy:
    """Every watch and override in order; later watches with the same name win per host."""

    watches: tuple[Watch, ...] = ()
    overrides: tuple[Override, ...] = ()
    processors: dict[str, dict[str, object]] = field(default_factory=dict)
    default_os: str = ""
    sources: tuple[str, ...] = ()

    def watch_names(self) -> set[str]:
        return {w.name for w in self.watches}
