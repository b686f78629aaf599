"""Consecutive breaching runs: the duration (지속시간) and occurrence count (발생 횟수).

Per level the state keeps the event time of the first sample of the current
unbroken run of breaching samples and how many samples the run has. A level is a
candidate once its run has at least ``count`` samples *and* has lasted at least
``duration`` seconds (last sample time minus first). A sample that does not breach
a level ends that level's run. Runs are nested: breaching a worse level breaches
every milder one, so the mildest level's run is the longest.

``runs`` is a flat list ``[start, n, start, n, ...]`` from the mildest level up,
plain JSON so it lives in the host's state as is.
"""

from __future__ import annotations


def new_runs(levels: int) -> list[float]:
    return [0.0, 0] * levels


def advance(
    runs: list[float], t: float, raised: int, sevs: tuple[int, ...], count: int, duration: float
) -> int:
    """Fold one sample's raise level into the runs; return the worst candidate level."""
    candidate = 0
    for i, sev in enumerate(sevs):
        j = 2 * i
        if raised >= sev:
            if runs[j + 1] == 0:
                runs[j] = t
            runs[j + 1] += 1
            if runs[j + 1] >= count and t - runs[j] >= duration:
                candidate = sev
        elif runs[j + 1]:
            runs[j + 1] = 0
    return candidate


def reset(runs: list[float]) -> None:
    """A gap in the data ends every run: "sustained" means we saw it sustained."""
    for j in range(1, len(runs), 2):
        runs[j] = 0
