"""A decoded metric batch's samples as columns, and the one-pass check that fills them.

A Linux host's batch carries ~85 samples and the stream worker's policy watches a few of
them. Building and validating one :class:`~gamsi.schemas.records.Sample` per item was
most of the worker's CPU (issue 15: 3 µs a sample, 70 % of the per-record work), so the
codec checks a batch's samples column by column with C-level passes
(:func:`fast_columns`) and the stream worker keeps them as :class:`SampleColumns`: its
engine reads ``(item, value, instance)`` rows (:func:`rows`) and looks each item up in
the host's watch table, building no object for the samples no watch names.

:func:`fast_columns` accepts exactly the samples the codec's per-sample check accepts,
and nothing else: whenever a batch might break a rule it returns None and the codec runs
the per-sample check, which refuses it with the reason naming the first bad sample.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Sequence
from itertools import repeat
from operator import attrgetter, itemgetter
from typing import Any, overload

from gamsi.schemas.records import Sample

Columns = tuple[list[str], list[float], list[str]]
"""(items, values, instances) of a batch's samples, in the batch's order."""
_ITEM = itemgetter("item")
_ROW = attrgetter("item", "value", "instance")
_NUMBERS = frozenset({float, int})


class SampleColumns(Sequence[Sample]):
    """The samples of a decoded batch as three parallel lists (item, value, instance).

    A read-only sequence of :class:`Sample`: indexing and iterating make the Sample objects
    on demand, equal to any sequence of the same samples (so a decoded batch still equals
    the batch that was encoded). The codec has checked every sample (non-empty item and
    string instance without control characters, finite value as a float)."""

    __slots__ = ("instances", "items", "values")

    def __init__(self, items: list[str], values: list[float], instances: list[str]) -> None:
        self.items, self.values, self.instances = items, values, instances

    def __len__(self) -> int:
        return len(self.items)

    @overload
    def __getitem__(self, index: int) -> Sample: ...

    @overload
    def __getitem__(self, index: slice) -> list[Sample]: ...

    def __getitem__(self, index: int | slice) -> Sample | list[Sample]:
        if isinstance(index, slice):
            cut = (self.items[index], self.values[index], self.instances[index])
            return list(map(Sample, *cut))
        return Sample(self.items[index], self.values[index], self.instances[index])

    def __iter__(self) -> Iterator[Sample]:
        return map(Sample, self.items, self.values, self.instances)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, SampleColumns):
            return (self.items, self.values, self.instances) == (
                other.items, other.values, other.instances,
            )  # fmt: skip
        if isinstance(other, Sequence) and not isinstance(other, str | bytes):
            return list(self) == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # mutable lists inside, like a list

    def __repr__(self) -> str:
        return f"SampleColumns({list(self)!r})"


def rows(samples: Iterable[Sample]) -> Iterator[tuple[str, float, str]]:
    """``(item, value, instance)`` of each sample, in order: the columns zipped (no object
    made) for :class:`SampleColumns`, the attributes of each Sample otherwise."""
    if isinstance(samples, SampleColumns):
        return zip(samples.items, samples.values, samples.instances, strict=True)
    return map(_ROW, samples)


def of_item(samples: Sequence[Sample], item: str) -> list[tuple[float, str]]:
    """``(value, instance)`` of each sample of ``item``, in order. On :class:`SampleColumns`
    the items are searched with ``list.count`` and ``list.index`` (C loops), so finding the
    few samples a stream processor reads costs little in a batch of a hundred."""
    if not isinstance(samples, SampleColumns):
        return [(s.value, s.instance) for s in samples if s.item == item]
    items = samples.items
    found, at = [], -1
    for _ in range(items.count(item)):
        at = items.index(item, at + 1)
        found.append((samples.values[at], samples.instances[at]))
    return found


def fast_columns(raw: list[Any], data: bytes | None = None) -> Columns | None:
    """The columns of a batch's decoded ``samples`` list if every sample is valid, else None.

    Valid as the codec's per-sample check defines it: an object whose ``item`` is a
    non-empty string, whose ``instance`` (default "") is a string, neither with a control
    character (:data:`gamsi.schemas.validate.CONTROL`: all are Unicode's Cc, which
    :meth:`str.isprintable` refuses), and whose ``value`` is a finite
    number, not a boolean (returned as a float). None means "some sample may be invalid":
    the caller checks sample by sample for the reason. ``data``, the JSON text ``raw``
    was decoded from, lets the control-character check run on the bytes at once (and its
    strings are not joined when it is plain ASCII). Never raises."""
    try:
        items = list(map(_ITEM, raw))  # KeyError: no item; TypeError: not an object
    except (KeyError, TypeError):
        return None
    if not raw:
        return [], [], []
    instances = list(map(dict.get, raw, repeat("instance"), repeat("")))
    values = list(map(dict.get, raw, repeat("value")))
    if set(map(type, items)) != {str} or "" in items or set(map(type, instances)) != {str}:
        return None
    if not set(map(type, values)) <= _NUMBERS:  # bool, None, strings, lists...
        return None
    try:
        if not math.isfinite(sum(values)):  # any NaN or infinity (or an overflowing sum)
            return None
        floats = list(map(float, values))
    except OverflowError:
        return None
    if not (_plain_json(data) or ("".join(items) + "".join(instances)).isprintable()):
        return None  # a control character, or another unprintable (NBSP, ZWJ): the exact check
    return items, floats, instances


def _plain_json(data: bytes | None) -> bool:
    """True when no string of the JSON document ``data`` can hold a control character:
    it is ASCII (no C1), has no backslash (no escape such as ``\\n``, ``\\u001b``) and
    no DEL; raw C0 characters are not JSON (orjson refuses them). Three C-speed scans."""
    return data is not None and data.isascii() and b"\\" not in data and b"\x7f" not in data
