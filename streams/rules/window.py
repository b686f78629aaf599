"""Count breaching samples inside a sliding window (Zabbix ``count(...,5m)>=N``).

Flapping-tolerant: the breaching samples need not be consecutive. Level L is a
candidate when at least ``count`` samples in the window ``(t - window, t]``
breach L, and it *holds* while at least ``count`` samples in the window are
still on the problem side of L's recovery threshold. So a value that keeps
bouncing across the threshold stays raised, and it recovers once fewer than
``count`` bad samples remain in the window.

Only samples that hold some level are kept (``[t, raise, hold]``): a long normal
stretch costs nothing.
"""

from __future__ import annotations


def advance(
    win: list[list[float]],
    t: float,
    raised: int,
    held: int,
    window: float,
    count: int,
    sevs: tuple[int, ...],
) -> tuple[int, int]:
    """Slide the window to ``t``, add this sample; return (candidate level, hold level)."""
    cutoff = t - window
    drop = 0
    n = len(win)
    while drop < n and win[drop][0] <= cutoff:
        drop += 1
    if drop:
        del win[:drop]
    if held:
        win.append([t, raised, held])
    if len(win) < count:
        return 0, 0
    candidate = hold = 0
    for sev in sevs:  # mildest first: the last level that still counts enough wins
        raised_n = held_n = 0
        for entry in win:
            if entry[1] >= sev:
                raised_n += 1
            if entry[2] >= sev:
                held_n += 1
        if raised_n >= count:
            candidate = sev
        if held_n >= count:
            hold = sev
        if held_n < count:
            break
    return candidate, hold


def began(win: list[list[float]], t: float) -> float:
    """When the problem in the window began: its oldest breaching sample."""
    return win[0][0] if win else t
