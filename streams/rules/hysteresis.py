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
"""

from __future__ import annotations

from gamsi.streams.state import Series


def decide(st: Series, t: float, candidate: int, hold: int, clear: float) -> tuple[int, int] | None:
    """Apply one sample's verdict to series ``st``; return (previous, new) on a change."""
    sev = st.sev
    if candidate > sev:
        st.sev = candidate
        st.clearing = None
        return sev, candidate
    if hold >= sev:
        st.clearing = None
        return None
    since = st.clearing
    if since is None:
        st.clearing = since = t
    if t - since < clear:
        return None
    new = max(hold, candidate)
    st.sev = new
    st.clearing = None
    if new == 0:
        st.since = 0.0
    return sev, new
