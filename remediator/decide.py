"""What runs, and why not: the remediator's decisions, without Kafka and without a clock.

An **incident** is one problem (a watch on a host's item instance) from its raise to
its recovery; its id is the problem key plus the time the problem began. For every
binding of the event's watch whose ``on`` holds the event's severity, the checks run
in this order, and the first that fails is the recorded reason:

1. the binding was stopped for this incident (cap, loop guard, unsafe value, dry run);
2. a command of this binding is in flight, or a successful run waits for the recovery;
3. **maintenance or silence**: a window of the notifier's routing file or a silence
   covers the event (the notifier's own definition, :func:`gamsi.notifier.mute.muted_by`)
   → skipped;
4. **attempt cap**: ``max_attempts`` runs for this incident → stopped, escalates;
5. **restart-loop guard** (Monit's "if N restarts within M cycles then unmonitor"):
   ``loop_runs`` runs of this script on this host within ``loop_window`` → stopped;
6. **cooldown**: the binding ran on this host less than ``cooldown`` ago → skipped;
7. **concurrency**: ``max_per_host`` in flight on the host, or ``max_running`` overall;
8. **unsafe value**: a control character in a field or rendered argument → stopped;
9. **dry run** (``[remediator] dry_run`` or the binding's ``dry_run``) → recorded once;
10. otherwise the command is **issued**.

Transient reasons (maintenance, cooldown, concurrency) are recorded once per attempt
and re-checked on every :meth:`Decider.tick`, so a retry goes out as soon as it may.
After a successful run the problem must recover within ``recovery_wait`` or a
``not-recovered`` row escalates it and the next attempt may follow; a command with no
result by its deadline is ``lost``. Every output is a :class:`Remediation` row; an
issued one comes with its :class:`Command`. :meth:`Decider.replay` rebuilds the state
from the rows already on the results topic, so a restarted remediator never issues an
attempt twice. Timeline tests: tests/unit/remediator/test_decide.py.
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Callable
from typing import Any

from gamsi.notifier.deliveries import problem_key
from gamsi.remediator import records as R
from gamsi.remediator.config import RemediatorSettings
from gamsi.remediator.incident import Incident, Inflight, event_of, template_fields
from gamsi.remediator.records import Command, Remediation, command_id
from gamsi.schemas.records import Severity, SeverityEvent
from gamsi.streams.policy.remediate import Binding, UnsafeValue, check_value, render_args

GRACE = 5.0
"""Seconds past expiry plus timeout before an unanswered command counts as lost."""

Output = list[tuple[Remediation, Command | None]]
BindingsFor = Callable[[SeverityEvent], tuple[Binding, ...]]
MutedBy = Callable[[SeverityEvent, float], str | None]


class Decider:
    """The remediator's state machine. ``bindings_for`` looks bindings up in the policy in
    force; ``muted_by`` says what mutes an event (``maintenance NAME``, ``silence ...``)
    or None."""

    def __init__(
        self, limits: RemediatorSettings, bindings_for: BindingsFor, muted_by: MutedBy, by: str
    ) -> None:
        self.limits = limits
        self.bindings_for = bindings_for
        self.muted_by = muted_by
        self.by = by
        self.incidents: dict[str, Incident] = {}
        self.open: dict[str, str] = {}  # problem key -> incident id
        self.inflight: dict[str, Inflight] = {}
        self.last_run: dict[tuple[str, str, str], float] = {}  # (host, watch, script)
        self.runs: dict[tuple[str, str], deque[float]] = defaultdict(deque)  # (host, script)

    # -- inputs -------------------------------------------------------------------

    def on_event(self, event: SeverityEvent, now: float) -> Output:
        """A severity event from the events topic."""
        key = problem_key(event)
        if event.transition == "recover" or event.severity == Severity.NORMAL:
            incident = self.incidents.pop(self.open.pop(key, ""), None)
            return self._recovered(incident, event, now) if incident else []
        iid = f"{key}|{event.since or event.ts:.3f}"
        if key not in self.open and not self.bindings_for(event):
            return []  # no recovery script for this watch: nothing to keep
        if self.open.get(key) not in (None, iid):  # a new problem replaced an unclosed one
            self.incidents.pop(self.open[key], None)
        incident = self.incidents.setdefault(iid, Incident(iid, event))
        incident.event = event
        self.open[key] = iid
        return self._evaluate(incident, now)

    def on_result(self, row: Remediation, now: float) -> Output:
        """A result row (ok, failed, timed-out, rejected) from an agent."""
        self.inflight.pop(row.command_id, None)
        incident = self.incidents.get(row.incident)
        if incident is None or row.status not in R.RESULTS:
            return []
        incident.last[row.script] = row
        if row.status == R.OK:
            incident.waiting[row.script] = now + self.limits.recovery_wait
        return []

    def tick(self, now: float) -> Output:
        """Lost commands, overdue recoveries, and retries that may go out now."""
        out: Output = []
        for cid, job in list(self.inflight.items()):
            if now >= job.deadline:
                del self.inflight[cid]
                incident = self.incidents.get(job.incident)
                if incident is not None:
                    row = self._row(incident, job.script, R.LOST, now, command_id=cid)
                    row.reason = "no result from the agent by the command's deadline"
                    incident.last[job.script] = row
                    out.append((row, None))
        for incident in list(self.incidents.values()):
            for script, until in list(incident.waiting.items()):
                if now >= until:
                    del incident.waiting[script]
                    row = self._row(incident, script, R.NOT_RECOVERED, now)
                    last = incident.last.get(script)
                    row.reason = f"not normal {self.limits.recovery_wait:g} s after " + (
                        last.summary() if last else script
                    )
                    out.append((row, None))
            out += self._evaluate(incident, now)
        return out

    def replay(self, row: Remediation) -> None:
        """Rebuild state from a row already on the results topic (at start, in order)."""
        if row.status in R.RESULTS:
            self.on_result(row, row.ts)
            return
        key = f"{row.host}|{row.watch}|{row.item}|{row.instance}"
        if row.status == R.RECOVERED:
            if self.open.get(key) == row.incident:
                del self.open[key]
            self.incidents.pop(row.incident, None)
            return
        if not row.incident:  # a manual run: only its limits count
            self._count_run(row.host, row.watch, row.script, row.ts)
            return
        incident = self.incidents.get(row.incident)
        if incident is None:
            incident = self.incidents[row.incident] = Incident(row.incident, event_of(row))
            self.open[key] = row.incident
        incident.noted.add(f"{row.script}:{row.attempt}:{row.status}:{row.reason.split(':')[0]}")
        if row.status in (R.ISSUED, R.DRY_RUN):
            incident.attempts[row.script] = max(incident.attempts.get(row.script, 0), row.attempt)
        if row.status == R.ISSUED:
            self._count_run(row.host, row.watch, row.script, row.ts)
            deadline = row.ts + self.limits.command_ttl + row.timeout_s + GRACE
            self.inflight[row.command_id] = Inflight(row.incident, row.host, row.script, deadline)
        elif row.status in (R.DRY_RUN, R.STOPPED):
            incident.stopped.add(row.script)
        elif row.status == R.LOST:
            self.inflight.pop(row.command_id, None)
            incident.last[row.script] = row
        elif row.status == R.NOT_RECOVERED:
            incident.waiting.pop(row.script, None)

    def note_manual(self, host: str, script: str, ts: float) -> None:
        """A manual run counts for the loop guard like any other run."""
        self._count_run(host, "", script, ts)

    # -- the checks ---------------------------------------------------------------

    def _evaluate(self, incident: Incident, now: float) -> Output:
        event = incident.event
        bindings = self.bindings_for(event)
        out: Output = []
        if bindings and not any(event.severity in b.on for b in bindings):
            sev = Severity(event.severity).name.lower()
            self._once(out, incident, "", 0, R.SKIPPED, f"no binding for {sev}", now)
        for b in bindings:
            if event.severity in b.on:
                out += self._consider(incident, b, now)
        return out

    def _consider(self, incident: Incident, b: Binding, now: float) -> Output:
        event, script, out = incident.event, b.script, []
        if script in incident.stopped or script in incident.waiting:
            return out
        if any(j.incident == incident.id and j.script == script for j in self.inflight.values()):
            return out
        attempt = incident.attempts.get(script, 0) + 1
        window = self.muted_by(event, now)
        if window:
            self._once(out, incident, script, attempt, R.SKIPPED, window, now)
            return out
        if attempt > b.max_attempts:
            return self._stop(incident, script, f"cap: {b.max_attempts} attempts made", now)
        runs = self._recent_runs(event.host, script, now)
        if runs >= self.limits.loop_runs:
            reason = f"loop guard: {runs} runs within {self.limits.loop_window:g} s"
            return self._stop(incident, script, reason, now)
        since = self.last_run.get((event.host, event.watch, script))
        if since is not None and now < since + b.cooldown:
            reason = f"cooldown: {since + b.cooldown - now:.0f} s left"
            self._once(out, incident, script, attempt, R.SKIPPED, reason, now)
            return out
        busy = self._busy(event.host)
        if busy:
            self._once(out, incident, script, attempt, R.SKIPPED, busy, now)
            return out
        try:
            for name in ("host", "watch", "item", "instance"):
                check_value(name, getattr(event, name))
            args = render_args(b.args, template_fields(event))
        except UnsafeValue as exc:
            return self._stop(incident, script, f"unsafe value: {exc}", now)
        incident.attempts[script] = attempt
        if self.limits.dry_run or b.dry_run:
            incident.stopped.add(script)
            row = self._row(incident, script, R.DRY_RUN, now, attempt=attempt, args=args)
            row.runs_on, row.timeout_s = b.where, b.timeout
            row.reason = "global dry_run" if self.limits.dry_run else "binding dry_run"
            return [(row, None)]
        cid = command_id(incident.id, script, attempt)
        command = Command(
            command_id=cid,
            host=event.host,
            script=script,
            args=args,
            timeout=b.timeout,
            issued_at=now,
            expires_at=now + self.limits.command_ttl,
            incident=incident.id,
            attempt=attempt,
            event_id=event.event_id,
            watch=event.watch,
            item=event.item,
            instance=event.instance,
            by=self.by,
        )
        self._count_run(event.host, event.watch, script, now)
        deadline = command.expires_at + b.timeout + GRACE
        self.inflight[cid] = Inflight(incident.id, event.host, script, deadline)
        row = self._row(incident, script, R.ISSUED, now, attempt=attempt, args=args)
        row.command_id, row.runs_on, row.timeout_s = cid, b.where, b.timeout
        return [(row, command)]

    def _busy(self, host: str) -> str:
        on_host = sum(1 for j in self.inflight.values() if j.host == host)
        if on_host >= self.limits.max_per_host:
            return f"concurrency: {on_host} in flight on {host}"
        if len(self.inflight) >= self.limits.max_running:
            return f"concurrency: {len(self.inflight)} in flight in total"
        return ""

    def _recent_runs(self, host: str, script: str, now: float) -> int:
        runs = self.runs[(host, script)]
        while runs and runs[0] <= now - self.limits.loop_window:
            runs.popleft()
        return len(runs)

    def _count_run(self, host: str, watch: str, script: str, ts: float) -> None:
        self.runs[(host, script)].append(ts)
        self.last_run[(host, watch, script)] = ts

    # -- rows ---------------------------------------------------------------------

    def _stop(self, incident: Incident, script: str, reason: str, now: float) -> Output:
        incident.stopped.add(script)
        attempt = incident.attempts.get(script, 0)
        row = self._row(incident, script, R.STOPPED, now, attempt=attempt)
        row.reason = reason
        last = incident.last.get(script)
        if last is not None:
            row.exit_code, row.duration_s, row.output = last.exit_code, last.duration_s, last.output
        return [(row, None)]

    def _once(
        self,
        out: Output,
        inc: Incident,
        script: str,
        attempt: int,
        status: str,
        why: str,
        now: float,
    ) -> None:
        """Record a transient reason once per attempt (a tick re-checks it every second)."""
        mark = f"{script}:{attempt}:{status}:{why.split(':')[0]}"
        if mark not in inc.noted:
            inc.noted.add(mark)
            row = self._row(inc, script, status, now, attempt=attempt)
            row.reason = why
            out.append((row, None))

    def _recovered(self, incident: Incident, event: SeverityEvent, now: float) -> Output:
        ran = [r for r in incident.last.values() if r.status in R.RESULTS]
        if not ran and not incident.attempts:
            return []
        last = max(ran, key=lambda r: r.ts) if ran else None
        script = last.script if last else next(iter(incident.attempts))
        row = self._row(incident, script, R.RECOVERED, now, attempt=last.attempt if last else 0)
        row.event_id, row.value = event.event_id, event.value
        if last is not None:
            row.reason = f"recovered after {last.summary()}"
            row.command_id, row.exit_code = last.command_id, last.exit_code
            row.duration_s, row.output = last.duration_s, last.output
        return [(row, None)]

    def _row(
        self, incident: Incident, script: str, status: str, now: float, **kw: Any
    ) -> Remediation:
        e, iid = incident.event, incident.id
        return Remediation.of_event(e, status, now, script=script, incident=iid, by=self.by, **kw)
