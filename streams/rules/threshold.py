"""Classify one value against a watch's levels: how bad it is, and how bad it still is.

Two answers per value: the *raise* level (the worst level whose threshold the value
crosses) and the *hold* level (the worst level whose recovery threshold the value has
not yet crossed back). Hold is never below raise, because a recovery threshold is
never on the problem side of its raise threshold; the band between the two is the
hysteresis that stops a value hovering at a threshold from flapping.

Downward levels (``<``, ``<=``) are handled by flipping signs once here, so every
other module reasons about "higher is worse" only.
"""

from __future__ import annotations

from gamsi.streams.policy.model import Watch


class Thresholds:
    __slots__ = ("floor", "holds", "raises", "sign")

    def __init__(self, watch: Watch) -> None:
        levels = sorted(watch.levels, key=lambda lv: lv.severity, reverse=True)
        self.sign = 1.0 if not levels or levels[0].upward else -1.0
        sign = self.sign
        # (severity, signed threshold, strict): strict means ">" (or "<" before the flip).
        self.raises = tuple(
            (int(lv.severity), sign * lv.threshold, lv.op in (">", "<")) for lv in levels
        )
        self.holds = tuple(
            (int(lv.severity), sign * watch.recovery_threshold(lv), lv.op in (">", "<"))
            for lv in levels
        )
        self.floor = min((h[1] for h in self.holds), default=float("inf"))
        """Signed values below this are normal at every level: the engine's fast path."""

    def classify(self, value: float) -> tuple[int, int]:
        """(raise level, hold level) of one value, 0 meaning normal."""
        x = self.sign * value
        if x < self.floor:
            return 0, 0
        raised = held = 0
        for sev, t, strict in self.raises:
            if x > t or (x == t and not strict):
                raised = sev
                break
        for sev, t, strict in self.holds:
            if sev <= raised:
                held = raised
                break
            if x > t or (x == t and not strict):
                held = sev
                break
        return raised, held
