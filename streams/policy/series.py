"""Input series of policy unit tests, in promtool's expanding notation.

``gamsi policy test`` reads a series' values either as a YAML list of numbers (``null``
for a missing sample) or as a string in the notation of Prometheus' ``promtool test
rules`` (docs: prometheus.io, "Unit testing for rules", ``input_series``):

- ``a+bxn`` is ``a a+b a+2b ... a+n*b`` (n+1 values); ``a-bxn`` counts down;
- ``axn`` is ``a`` repeated n+1 times (``a+0xn``);
- ``_`` is a missing sample (the collector sent none for that item at that step), and
  ``_xn`` is n missing samples (promtool's rule);
- plain numbers stand for themselves; terms are separated by spaces.

So ``'50x5 95x30 40x20'`` is 6 samples at 50, 31 at 95, then 21 at 40.
"""

from __future__ import annotations

import math
import re

MAX_SAMPLES = 1_000_000
"""Samples one series may expand to at most (a bound on a test file's cost)."""
_NUMBER = r"\d+(?:\.\d+)?"
_TERM = re.compile(
    rf"^(?P<a>_|[-+]?{_NUMBER}(?:e[-+]?\d+)?)(?:(?P<op>[-+])(?P<b>{_NUMBER}))?(?:x(?P<n>\d+))?$"
)


def expand(values: object) -> list[float | None]:
    """The samples of ``values`` (a list or a notation string); None is a missing sample.

    Raises ValueError saying what was expected (the caller adds the file and key).
    """
    if isinstance(values, list):
        out: list[float | None] = []
        for v in values:
            if v is None:
                out.append(None)
            elif isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v):
                out.append(float(v))
            else:
                raise ValueError(f"expected numbers or null in the list, got {v!r}")
        return out
    if isinstance(values, int | float) and not isinstance(values, bool):
        return [float(values)]
    if not isinstance(values, str) or not values.split():
        raise ValueError("expected a list of numbers or a series such as '0+10x5 _ 50x3'")
    out = []
    for term in values.split():
        m = _TERM.match(term)
        if m is None:
            raise ValueError(f"expected terms like 5, 0+10x5, 90x3, _ or _x2; {term!r} is not one")
        n = int(m["n"]) if m["n"] else None
        missing = m["a"] == "_"
        if m["op"] and (missing or n is None):
            raise ValueError(f"expected a step only on a number, with a count: {term!r}")
        count = (n if missing else n + 1) if n is not None else 1
        if len(out) + count > MAX_SAMPLES:
            raise ValueError(f"expected at most {MAX_SAMPLES:,} samples in a series")
        if missing:
            out += [None] * count
        else:
            a, b = float(m["a"]), float(m["b"] or 0) * (-1 if m["op"] == "-" else 1)
            out += [a + i * b for i in range(count)]
    return out
