"""Checks on a valid policy that `gamsi policy validate` and `apply` both make.

A policy can be valid and still not do what its author meant: a watch on an item
nothing reports can never fire (``item: memroy.used_pct``), and a policy that
disables every watch silences the whole fleet. These are findings, not load
errors, so the rule engine still runs such a policy when it arrives on the topic;
the commands warn (``--strict``: refuse) and refuse an empty policy unless
``--allow-empty``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from difflib import get_close_matches

from gamsi.streams.policy.catalogue import known_items, processor_outputs
from gamsi.streams.policy.model import Policy, Watch


@dataclass(frozen=True, slots=True)
class UnknownItem:
    """A watch on an item that neither the collector's catalogue nor any host reports."""

    watch: Watch
    where: str
    """``FILE:LINE: watches[N].item`` (the line when known)."""
    suggestion: str | None = None
    """The closest known item, for "did you mean"."""
    hint: str = ""
    """What to do instead, when there is something better to say than a suggestion."""

    def __str__(self) -> str:
        if self.hint:
            tail = f"; {self.hint}"
        else:
            tail = f"; did you mean {self.suggestion!r}?" if self.suggestion else ""
        return (
            f"{self.where}: {self.watch.item!r} is no item the collector reports nor one any "
            f"host in the inventory reports, so watch {self.watch.name!r} can never fire{tail}"
        )


def _where(w: Watch, lines: Mapping[str, Mapping[str, int]]) -> str:
    source, _, path = w.origin.rpartition(": ")
    if not source:
        return f"{w.origin or '<policy>'}: item"
    line = lines.get(source, {}).get(f"{path}.item")
    return f"{source}:{line}: {path}.item" if line else f"{source}: {path}.item"


def unknown_items(
    policy: Policy,
    reported: Iterable[str] | None,
    lines: Mapping[str, Mapping[str, int]] | None = None,
    suggest: int = 20,
) -> list[UnknownItem]:
    """Watches whose item is neither known (:func:`known_items`) nor in ``reported``.

    ``reported`` are the items hosts reported (the inventory), None when it could not be
    read. ``lines`` maps a source to its key-path lines, for ``FILE:LINE`` in the finding.
    The suggestion is the closest known or reported item (difflib, cutoff 0.6), or None;
    only the first ``suggest`` findings get one, so a huge policy stays quick to check.
    """
    seen = set(reported or ())
    known = known_items(policy, seen)
    derived = processor_outputs()
    out = []
    for w in policy.watches:
        if w.item in known:
            continue
        if w.item in derived:  # made by a processor this policy does not enable
            name = derived[w.item]
            hint = f"it is derived by processor {name!r}, which this policy does not enable"
            out.append(UnknownItem(w, _where(w, lines or {}), hint=hint))
            continue
        close = get_close_matches(w.item, known, n=1, cutoff=0.6) if len(out) < suggest else []
        out.append(UnknownItem(w, _where(w, lines or {}), close[0] if close else None))
    return out


def watches_nothing(policy: Policy) -> bool:
    """True when no watch is enabled anywhere: each is ``enabled: false`` (or switched off by
    an override for every host) and no override switches it on for some hosts.

    An override is judged on its own variant of the watch (``Override.variants``), so a
    watch switched off everywhere and back on by a later override counts as enabled.
    """
    for w in policy.watches:
        enabled = w.enabled
        for o in policy.overrides:
            variant = o.variants.get(w.origin) if o.watch == w.name else None
            if variant is None:
                continue
            if o.hosts.everywhere:
                enabled = variant.enabled
            elif variant.enabled:
                return False
        if enabled:
            return False
    return True
