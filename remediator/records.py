"""The remediator's wire records: a signed command, and one audit row per decision or result.

A **command** travels on the commands topic keyed by host, inside a signed envelope::

    {"v": 1, "kind": "signed_command", "key_id": "…", "payload": "<command JSON>",
     "signature": "<base64 Ed25519 over the payload's UTF-8 bytes>"}

The agent verifies the signature over the payload *text* before it parses a single
field of it, so nothing in a forged command is ever interpreted. The command id is
derived from the incident, the script and the attempt (:func:`command_id`): a command
issued twice for the same attempt (a remediator killed between two writes) has the same
id, and the agent's replay check refuses the second copy.

A **record** (kind ``remediation``) is one row of the ``remediations`` table: what the
remediator decided (issued, skipped, dry-run, stopped, lost, not-recovered, recovered)
and what an agent did (ok, failed, timed-out, rejected), each with its reason. Records
use the shared codec's envelope and field checks (:mod:`gamsi.schemas.codec`).
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from typing import Any, ClassVar

import orjson

from gamsi.schemas.codec import DecodeError, _plain, encode, read_envelope
from gamsi.schemas.records import _f

# Decisions of the remediator.
ISSUED, SKIPPED, DRY_RUN, STOPPED = "issued", "skipped", "dry-run", "stopped"
LOST, NOT_RECOVERED, RECOVERED = "lost", "not-recovered", "recovered"
# Outcomes on the agent (or the remediator's host for where: central).
OK, FAILED, TIMED_OUT, REJECTED = "ok", "failed", "timed-out", "rejected"
RESULTS = (OK, FAILED, TIMED_OUT, REJECTED)
MAX_TS = 10_000_000_000.0  # DateTime64(3) ends in 2299
ESCALATING = (FAILED, TIMED_OUT, REJECTED, LOST, NOT_RECOVERED, STOPPED)
"""Statuses after which the problem is escalated to people with the script's result."""


@dataclass(slots=True)
class Command:
    """What an agent is asked to run. Times are seconds since the epoch (UTC)."""

    kind: ClassVar[str] = "remediation_command"

    command_id: str = _f("", "Derived from incident, script and attempt (manual: random).")
    host: str = _f("", "The server whose agent runs it (the record's key too).")
    script: str = _f("", "A plain file name in the agent's scripts_dir.")
    args: list[str] = _f("", "Arguments, each one argv element; no shell.", factory=list)
    timeout: float = _f("s", "Killed with its process group after this long.", 30.0)
    issued_at: float = _f("s since epoch (UTC)", "When the remediator signed it.", 0.0)
    expires_at: float = _f("s since epoch (UTC)", "The agent refuses it after this.", 0.0)
    incident: str = _f("", "host|watch|item|instance|since; empty for a manual run.", "")
    attempt: int = _f("", "1, 2, ... within the incident; 0 for a manual run.", 0)
    event_id: str = _f("", "The severity event that started it.", "")
    watch: str = _f("", "The watch whose binding it is.", "")
    item: str = _f("", "The watched item.", "")
    instance: str = _f("", "The item's instance (mount, NIC, ...).", "")
    by: str = _f("", "remediator@HOST, or manual:USER@HOST.", "")


COMMAND_FIELDS = (
    "host", "script", "command_id", "event_id", "incident", "attempt", "watch", "item", "instance",
)  # fmt: skip
EVENT_FIELDS = ("host", "event_id", "watch", "item", "instance", "severity", "value")


@dataclass(slots=True)
class Remediation:
    """One audit row: a decision of the remediator or a result of a run (see the module)."""

    kind: ClassVar[str] = "remediation"

    ts: float = _f("s since epoch (UTC)", "When it was decided or finished.")
    status: str = _f(
        "", "issued, skipped, dry-run, stopped, lost, not-recovered, recovered (remediator); "
        "ok, failed, timed-out, rejected (agent)."
    )  # fmt: skip
    host: str = _f("", "The server it is about (for a rejection: the agent that refused).")
    script: str = _f("", "The script's name.", "")
    command_id: str = _f("", "The command's id (empty: no command, or an unverified one).", "")
    event_id: str = _f("", "The severity event behind it.", "")
    incident: str = _f("", "host|watch|item|instance|since; empty for a manual run.", "")
    attempt: int = _f("", "The attempt within the incident.", 0)
    watch: str = _f("", "The watch.", "")
    item: str = _f("", "The watched item.", "")
    instance: str = _f("", "The item's instance.", "")
    severity: int = _f("0..5", "The event's severity.", 0)
    value: float = _f("item's unit", "The event's value.", 0.0)
    args: list[str] = _f("", "The rendered arguments.", factory=list)
    runs_on: str = _f("", "agent or central.", "agent")
    reason: str = _f("", "Why it was skipped, stopped or rejected; what recovered after.", "")
    timeout_s: float = _f("s", "The command's timeout.", 0.0)
    exit_code: int = _f("", "The script's exit code; -1 when none (killed, not run).", -1)
    duration_s: float = _f("s", "How long the script ran.", 0.0)
    output: str = _f("", "The tail of stdout and stderr ([remediator] output_bytes).", "")
    by: str = _f("", "Who decided or ran it: remediator@, agent@, central@, manual:.", "")
    tags: list[str] = _f("", "The host's tags, from the event.", factory=list)

    @classmethod
    def about(cls, command: Command, status: str, ts: float, **more: Any) -> Remediation:
        """A row about ``command`` (its ids, host, script, args copied)."""
        same = {k: getattr(command, k) for k in COMMAND_FIELDS}
        return cls(ts=ts, status=status, args=list(command.args), **same, **more)

    @classmethod
    def of_event(cls, event: Any, status: str, ts: float, **more: Any) -> Remediation:
        """A row about a severity ``event`` (host, watch, item, instance, severity, value)."""
        same = {k: getattr(event, k) for k in EVENT_FIELDS}
        return cls(ts=ts, status=status, tags=list(event.tags), **same, **more)

    def summary(self) -> str:
        """'restart-nginx: exit 0 in 2.1 s' / 'restart-nginx: timed out after 30 s' / ..."""
        if self.status == TIMED_OUT:
            return f"{self.script}: timed out after {self.duration_s:.1f} s"
        if self.status in (OK, FAILED):
            return f"{self.script}: exit {self.exit_code} in {self.duration_s:.1f} s"
        return f"{self.script}: {self.status} ({self.reason})" if self.reason else self.script


WIRE_RECORDS = (Command, Remediation)
"""The remediator's records, for `gamsi schemas` (the signed envelope wraps a Command)."""


def command_id(incident: str, script: str, attempt: int) -> str:
    """The id of attempt ``attempt`` of ``script`` for ``incident``: equal inputs, equal id."""
    digest = hashlib.sha256(f"{incident}\x1f{script}\x1f{attempt}".encode()).hexdigest()
    return digest[:32]


def command_payload(command: Command) -> bytes:
    """The canonical bytes that are signed (sorted keys, orjson)."""
    return orjson.dumps({"kind": command.kind, **asdict(command)}, option=orjson.OPT_SORT_KEYS)


def signed_envelope(payload: bytes, signature: str, key_id: str) -> bytes:
    return orjson.dumps(
        {
            "v": 1,
            "kind": "signed_command",
            "key_id": key_id,
            "payload": payload.decode(),
            "signature": signature,
        }
    )


def open_envelope(data: bytes) -> tuple[bytes, str, str]:
    """(payload bytes, signature, key_id) of a signed envelope; DecodeError if malformed."""
    kind, body = read_envelope(data)
    if kind != "signed_command":
        raise DecodeError(f"expected a signed_command, got {kind!r}")
    parts = [body.get(k) for k in ("payload", "signature", "key_id")]
    if not all(isinstance(p, str) for p in parts):
        raise DecodeError("signed_command: payload, signature and key_id must be strings")
    return parts[0].encode(), parts[1], parts[2]


def decode_command(payload: bytes) -> Command:
    """A Command from *verified* payload bytes; DecodeError on any wrong field."""
    try:
        body = orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        raise DecodeError(f"command payload is not JSON: {exc}") from None
    if not isinstance(body, dict) or body.pop("kind", None) != Command.kind:
        raise DecodeError("command payload: expected a remediation_command object")
    return _plain(Command, body)


def decode_remediation(data: bytes) -> Remediation:
    """A checked audit row (types by the codec, ranges here); DecodeError otherwise."""
    kind, body = read_envelope(data)
    if kind != Remediation.kind:
        raise DecodeError(f"expected a remediation record, got {kind!r}")
    row: Remediation = _plain(Remediation, body)
    if not row.host or not row.status:
        raise DecodeError("remediation: host and status must not be empty")
    if not 0 <= row.ts < MAX_TS:
        raise DecodeError(f"remediation.ts: expected seconds since 1970 before 2286, got {row.ts}")
    if not 0 <= row.severity <= 5:
        raise DecodeError(f"remediation.severity: expected 0..5, got {row.severity}")
    if not 0 <= row.attempt < 2**32 or not -(2**31) <= row.exit_code < 2**31:
        raise DecodeError("remediation: attempt or exit_code out of range")
    return row


def history_values(row: Remediation) -> dict[str, Any]:
    """The ``remediations`` table's columns for ``row`` (ts as DateTime64(3) ticks)."""
    values = asdict(row)
    values["ts"] = round(row.ts * 1000)
    return values


def encode_remediation(record: Remediation) -> bytes:
    return encode(record)  # type: ignore[arg-type] - any record with ``kind`` encodes
