"""Decide the new severity: raise and escalate at once, step down only when it is clear.

Given this sample's candidate level (raise side, from duration/count/window) and
hold level (recovery side, from the recovery thresholds):

- candidate above the current severity: raise (from normal) or escalate, now;
- hold at or above the current severity: stay, and forget any clearing in progress;
- hold below it: the clearing run starts at this sample; once it has lasted
  ``clear`` seconds the severity drops to the hold level (de-escalate, or recover
  when that is normal). Any sample back at the current severity restarts the run.

So a value needs to cross the *recovery* threshold and stay across for ``clear``
seconds to recover: no flapping around a threshold.

Series state indexes used here: 0 severity, 1 since, 3 clearing since (None: not clearing).
"""

from __future__ import annotations

SEV, SINCE, LAST, CLEARING = 0, 1, 2, 3


def decide(st: list, t: float, candidate: int, hold: int, clear: float) -> tuple[int, int] | None:
    """Apply one sample's verdict to series state ``st``; return (previous, new) on a change."""
    sev = st[SEV]
    if candidate > sev:
        st[SEV] = candidate
        st[CLEARING] = None
        return sev, candidate
    if hold >= sev:
        st[CLEARING] = None
        return None
    since = st[CLEARING]
    if since is None:
        st[CLEARING] = since = t
    if t - since < clear:
        return None
    new = max(hold, candidate)
    st[SEV] = new
    st[CLEARING] = None
    if new == 0:
        st[SINCE] = 0.0
    return sev, new
