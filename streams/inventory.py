"""What each host reports, and which of its items no watch covers (미등록, unregistered).

The inventory is built from metric batches (:meth:`Inventory.observe`): per host its
OS, tags and, per item, every instance seen (each mount, each NIC, each process).
:func:`coverage` compares it with the host's OS profile (the items the shipped OS
defaults watch, minus the instances those defaults deliberately skip) and with the
watches that actually apply, and says for each uncovered item instance *why* it is
uncovered, so the fix is obvious. Pure: reading files is the CLI's business.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from gamsi.schemas.records import MetricBatch
from gamsi.streams.policy.match import effective_watches
from gamsi.streams.policy.model import HEARTBEAT_ITEM, Policy, Watch
from gamsi.streams.rules.registry import load_processors


@dataclass
class HostInventory:
    host: str
    os: str = ""
    tags: list[str] = field(default_factory=list)
    last_seen: float = 0.0
    items: dict[str, list[str]] = field(default_factory=dict)
    """Item → sorted instances ("" for a host-wide item)."""


@dataclass
class Inventory:
    hosts: dict[str, HostInventory] = field(default_factory=dict)

    def observe(self, batch: MetricBatch) -> None:
        """Fold one batch in: the newest batch decides OS and tags; instances accumulate."""
        inv = self.hosts.get(batch.host)
        if inv is None:
            inv = self.hosts[batch.host] = HostInventory(batch.host)
        if batch.ts >= inv.last_seen:
            inv.os, inv.tags, inv.last_seen = batch.os, list(batch.tags), batch.ts
        for s in batch.samples:
            instances = inv.items.setdefault(s.item, [])
            if s.instance not in instances:
                instances.append(s.instance)
                instances.sort()

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": 1,
            "hosts": {
                h.host: {"os": h.os, "tags": h.tags, "last_seen": h.last_seen, "items": h.items}
                for h in self.hosts.values()
            },
        }

    @classmethod
    def from_dict(cls, raw: dict[str, Any], source: str = "<dict>") -> Inventory:
        if (
            not isinstance(raw, dict)
            or raw.get("version") != 1
            or not isinstance(raw.get("hosts"), dict)
        ):
            raise ValueError(f"{source}: expected an inventory object with version 1 and hosts")
        hosts = {}
        for name, h in raw["hosts"].items():
            try:
                hosts[name] = HostInventory(
                    name, str(h["os"]), list(h["tags"]), float(h["last_seen"]),
                    {str(k): sorted(map(str, v)) for k, v in h["items"].items()},
                )  # fmt: skip
            except (KeyError, TypeError, AttributeError, ValueError) as exc:
                raise ValueError(
                    f"{source}: hosts.{name}: expected os, tags, last_seen and items ({exc})"
                ) from None
        return cls(hosts)


@dataclass(frozen=True)
class Gap:
    """One expected item instance that no enabled watch covers, with the reason."""

    item: str
    instance: str
    reason: str
    template: Watch
    """The OS default watch that `policy register --defaults` copies for it."""


@dataclass(frozen=True)
class Coverage:
    host: str
    os: str
    expected: int
    registered: int
    gaps: tuple[Gap, ...]
    unreported: tuple[str, ...]
    """Profile items the collector does not send at all (input off, or the OS lacks them)."""


def _instances(inv: HostInventory, item: str, derived_from: dict[str, str]) -> list[str] | None:
    if item == HEARTBEAT_ITEM:
        return [""]
    if item in inv.items:
        return inv.items[item]
    if item in derived_from and derived_from[item] in inv.items:
        return inv.items[derived_from[item]]
    return None


def _why(watches: list[Watch], item: str, instance: str) -> str:
    same_item = [w for w in watches if w.item == item]
    if not same_item:
        return "no watch for this item"
    for w in same_item:
        if not w.enabled and w.covers_instance(instance):
            return f"watch {w.name} is disabled"
    for w in same_item:
        if any(_match(instance, x) for x in w.exclude):
            return f"watch {w.name} excludes it"
    names = ", ".join(f"{w.name} ({w.instance or 'host-wide'})" for w in same_item)
    return f"no watch covers this instance: {names}"


def _match(instance: str, pattern: str) -> bool:
    from fnmatch import fnmatchcase

    return fnmatchcase(instance, pattern)


def coverage(policy: Policy, profile: Policy, inv: HostInventory) -> Coverage:
    """Expected item instances of ``inv``'s host versus the enabled watches of ``policy``.

    ``profile`` is the OS default policy: its enabled watches for this host name the
    items expected, and their exclusions the instances not expected.
    """
    os_name = inv.os or policy.default_os
    derived_from = {p.output: p.input for p in load_processors().values()}
    actual = [e.watch for e in effective_watches(policy, inv.host, os_name, inv.tags)]
    enabled = [w for w in actual if w.enabled]
    gaps: list[Gap] = []
    unreported: list[str] = []
    expected = registered = 0
    for e in effective_watches(profile, inv.host, os_name, inv.tags):
        template = e.watch
        if not template.enabled:
            continue
        instances = _instances(inv, template.item, derived_from)
        if instances is None:
            unreported.append(template.item)
            continue
        for instance in instances:
            if not template.covers_instance(instance):
                continue
            expected += 1
            if any(w.item == template.item and w.covers_instance(instance) for w in enabled):
                registered += 1
            else:
                gaps.append(
                    Gap(template.item, instance, _why(actual, template.item, instance), template)
                )
    return Coverage(inv.host, os_name, expected, registered, tuple(gaps), tuple(unreported))
