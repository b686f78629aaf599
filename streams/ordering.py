"""Which batches of a host to apply: replays, late batches, clock steps and agent runs.

A batch's identity is (agent run, seq): the agent draws a random ``run`` id each
time it starts and counts ``seq`` from 0 within the run. So:

- same run, seq at or before the last applied one: a redelivery or a late batch,
  dropped whole (``late``); history is never rewritten;
- same run, newer seq, older ``ts``: the agent's clock stepped back; applied, and
  every run and window restarts (``step``);
- another run never seen on this host: the agent restarted; applied even when its
  clock is behind the last applied ``ts`` (then it restarts runs and windows like a
  clock step), so a restart with a slow clock is never mistaken for a replay;
- a run seen before (one of the last few): its batches continue from that run's last
  seq — a spool of the previous run replayed after a restart carries its own run id
  and is judged in order, never as the new run's replay.

One batch can move this state only as far as the next real batch can follow: within
a run, seq may not run ahead of the time that passed (more than
:data:`SEQ_SLACK` ticks beyond ``Δts / interval``); such a batch is refused with a
reason instead of making every later real batch "late". (A batch too far ahead of
the worker's clock is refused before it gets here; see gamsi.streams.limits.)
Agents older than the run id send ``run: ""``; they keep the old rule (a batch older
in both ts and seq is a replay; newer ts always applies), so their restart with a
slower clock is still dropped as late until it passes its old ts or seq.
"""

from __future__ import annotations

from gamsi.schemas.records import MetricBatch
from gamsi.streams.state import HostState

SEQ_SLACK = 10
"""Ticks a seq may run ahead of its batch's time (skipped slots, rounding, a slow tick)."""
APPLY, LATE, STEP = "apply", "late", "step"


class Refused(ValueError):
    """The batch cannot be placed in its host's order; the message says why."""


def place(state: HostState, batch: MetricBatch) -> str:
    """Decide for ``batch``: :data:`APPLY`, :data:`LATE` (drop) or :data:`STEP` (apply after
    restarting runs and windows). Updates the run bookkeeping; raises :class:`Refused`."""
    run, seq, t = batch.run, batch.seq, batch.ts
    if run != state.run:
        last = state.past.get(run)
        if last is not None and seq <= last:
            return LATE  # a replay of an earlier run
        if last is not None:
            _plausible(state, batch, last)
        if state.seq >= 0:  # a host's very first batch has no earlier run to remember
            state.remember_run(state.run, state.seq)
        state.past.pop(run, None)
        state.run = run
        return STEP if t <= state.ts else APPLY
    if not run:  # an agent without run ids: older in both seq and time is a replay
        if seq > state.seq:
            _plausible(state, batch, state.seq)
        elif t <= state.ts:
            return LATE
        return APPLY if t > state.ts else STEP
    if seq <= state.seq:
        return LATE
    _plausible(state, batch, state.seq)
    return STEP if t <= state.ts else APPLY


def _plausible(state: HostState, batch: MetricBatch, last_seq: int) -> None:
    if batch.interval <= 0 or last_seq < 0:
        return
    elapsed = max(batch.ts - state.ts, 0.0)
    allowed = elapsed / batch.interval + SEQ_SLACK
    if batch.seq - last_seq > allowed:
        raise Refused(
            f"seq {batch.seq} runs {batch.seq - last_seq} ticks ahead of the last applied "
            f"({last_seq}) while ts moved {elapsed:g} s at {batch.interval:g} s per tick"
        )
