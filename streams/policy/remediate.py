"""Recovery bindings of a watch (복구 스크립트): which script runs, on which severities, how.

A watch may carry ``remediate:``, a list of bindings::

    remediate:
      - script: restart-nginx          # a name in the agent's allow-list, never a path
        on: [urgent, fatal]            # the severities that start it
        args: ["${instance}"]          # each template is exactly one argv element
        where: agent                   # agent (the affected server) or central
        timeout: 30s                   # killed, with its children, after this
        max_attempts: 3                # per incident (one problem, raise to recovery)
        cooldown: 10m                  # between two runs of this binding on one host
        dry_run: false                 # record what would run, run nothing

This module is the binding's model, its strict parser (errors name the file, line and
key, like the rest of the policy), its canonical dump, and the one function that turns
templates into argv (:func:`render_args`). It imports nothing from Kafka.

Templates read event fields only — ``${host}``, ``${item}``, ``${instance}``,
``${value}``, ``${severity}``, ``${watch}`` — and ``$$`` is a literal ``$``. There is no
shell anywhere: a value with ``;`` or ``$(...)`` in it is one literal argument. Values
with control characters (NUL, newline, ...) are refused when rendering, because a script
may well log or re-quote its arguments (see docs/remediation.md, "Safety rules").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from gamsi.schemas.records import Severity
from gamsi.streams.policy.values import Reader, format_duration, join, show

BINDING_KEYS = (
    "script", "on", "args", "where", "timeout", "max_attempts", "cooldown", "dry_run",
)  # fmt: skip
TEMPLATE_FIELDS = ("host", "item", "instance", "value", "severity", "watch")
WHERE = ("agent", "central")
SCRIPT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
"""A script is a plain file name in the allow-list directory: no ``/``, no leading dot."""
_TEMPLATE = re.compile(r"\$\$|\$\{([^}]*)\}|\$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
MAX_TIMEOUT = 3600.0
DEFAULTS = {"where": "agent", "timeout": 30.0, "max_attempts": 3, "cooldown": 600.0}


class UnsafeValue(ValueError):
    """A rendered argument (or the event field it came from) holds a control character."""


@dataclass(frozen=True, slots=True)
class Binding:
    """One recovery action of a watch.

    ``on`` are the severities whose events start it; ``args`` are templates (see the
    module docstring); ``timeout`` and ``cooldown`` are seconds; ``max_attempts`` counts
    runs per incident. ``dry_run`` records the decision without issuing the command.
    """

    script: str
    on: tuple[Severity, ...]
    args: tuple[str, ...] = ()
    where: str = "agent"
    timeout: float = 30.0
    max_attempts: int = 3
    cooldown: float = 600.0
    dry_run: bool = False


def _template(r: Reader, raw: Any, path: str) -> str:
    text = r.string(raw, path)
    for m in _TEMPLATE.finditer(text):
        token = m.group(0)
        if token == "$$":
            continue
        if token == "$" or m.group(1) not in TEMPLATE_FIELDS:
            raise r.fail(
                path,
                f"expected ${{field}} with field one of {', '.join(TEMPLATE_FIELDS)} "
                f"(and $$ for a literal $), got {show(text)}",
            )
    if _CONTROL.search(text):
        raise r.fail(path, "expected no control characters (newline, tab, NUL) in an argument")
    return text


def binding_from_dict(r: Reader, raw: Any, path: str) -> Binding:
    """A validated Binding; raises PolicyError naming ``path`` and what was expected."""
    if isinstance(raw, dict) and True in raw and "on" not in raw:
        # YAML 1.1 (PyYAML) reads a bare `on:` key as the boolean true
        raw = {("on" if k is True else k): v for k, v in raw.items()}
    d = r.mapping(raw, path, BINDING_KEYS)
    p = lambda key: join(path, key)  # noqa: E731 - a local shorthand for error paths
    if "script" not in d:
        raise r.fail(p("script"), "expected the name of a script in the allow-list; it is missing")
    script = r.string(d["script"], p("script"), empty=False)
    if not SCRIPT_NAME.match(script) or ".." in script:
        raise r.fail(
            p("script"),
            "expected a plain file name of the agent's scripts directory (letters, digits, "
            f"'.', '_', '-'; no '/' or '..'), got {show(script)}",
        )
    if "on" not in d:
        raise r.fail(p("on"), "expected the severities that start the script; it is missing")
    names = r.strings(d["on"], p("on"))
    levels = tuple(s.name.lower() for s in Severity if s is not Severity.NORMAL)
    if not names or any(n not in levels for n in names):
        raise r.fail(p("on"), f"expected a list of {', '.join(levels)}, got {show(list(names))}")
    raw_args = d.get("args", [])
    if not isinstance(raw_args, list):
        raise r.fail(p("args"), f"expected a list of argument templates, got {show(raw_args)}")
    args = tuple(_template(r, a, f"{p('args')}[{i}]") for i, a in enumerate(raw_args))
    where = r.string(d.get("where", "agent"), p("where"))
    if where not in WHERE:
        raise r.fail(p("where"), f"expected one of {', '.join(WHERE)}, got {show(where)}")
    timeout = r.duration(d.get("timeout", DEFAULTS["timeout"]), p("timeout"))
    if not 0 < timeout <= MAX_TIMEOUT:
        raise r.fail(p("timeout"), f"expected a duration above 0 and at most 1h, got {timeout:g}")
    return Binding(
        script=script,
        on=tuple(sorted({Severity.parse(n) for n in names})),
        args=args,
        where=where,
        timeout=timeout,
        max_attempts=r.count(d.get("max_attempts", DEFAULTS["max_attempts"]), p("max_attempts")),
        cooldown=r.duration(d.get("cooldown", DEFAULTS["cooldown"]), p("cooldown")),
        dry_run=r.boolean(d.get("dry_run", False), p("dry_run")),
    )


def bindings_from_list(r: Reader, raw: Any, path: str) -> tuple[Binding, ...]:
    """A watch's ``remediate:`` value (absent: no bindings)."""
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise r.fail(path, f"expected a list of recovery bindings, got {type(raw).__name__}")
    out = tuple(binding_from_dict(r, b, f"{path}[{i}]") for i, b in enumerate(raw))
    for i, b in enumerate(out):
        if any(o.script == b.script for o in out[:i]):
            raise r.fail(f"{path}[{i}].script", f"expected each script once, {b.script!r} is twice")
    return out


def binding_to_dict(b: Binding) -> dict[str, Any]:
    """The canonical plain form (keys at their defaults left out); reads back equal."""
    out: dict[str, Any] = {"script": b.script, "on": [s.name.lower() for s in b.on]}
    if b.args:
        out["args"] = list(b.args)
    for key in ("where", "timeout", "max_attempts", "cooldown"):
        value = getattr(b, key)
        if value != DEFAULTS[key]:
            out[key] = format_duration(value) if key in ("timeout", "cooldown") else value
    if b.dry_run:
        out["dry_run"] = True
    return out


def describe_binding(b: Binding) -> str:
    """One line for `gamsi policy show`: 'restart-nginx ${instance} on urgent,fatal @agent ...'."""
    on = ",".join(s.name.lower() for s in b.on)
    argv = " ".join([b.script, *b.args])
    dry = " dry-run" if b.dry_run else ""
    return (
        f"{argv} on {on} @{b.where} timeout {format_duration(b.timeout)} "
        f"max {b.max_attempts} cooldown {format_duration(b.cooldown) or 0}{dry}"
    )


def check_value(name: str, value: str) -> None:
    """Raise UnsafeValue when ``value`` has a control character (NUL, newline, escape...)."""
    if _CONTROL.search(value):
        raise UnsafeValue(f"{name} contains a control character: {value[:40]!r}")


def render_args(templates: tuple[str, ...], fields: dict[str, str]) -> list[str]:
    """Each template → exactly one argv element, by substituting event ``fields``.

    ``fields`` maps every name of TEMPLATE_FIELDS to its text. Raises UnsafeValue when a
    result holds a control character (it is never passed on). No shell is involved at
    any point, so ``;``, ``|``, ``$(...)`` and quotes stay literal characters.
    """

    def sub(m: re.Match[str]) -> str:
        return "$" if m.group(0) == "$$" else fields[m.group(1)]

    out = []
    for i, template in enumerate(templates):
        value = _TEMPLATE.sub(sub, template)
        check_value(f"argument {i}", value)
        out.append(value)
    return out
