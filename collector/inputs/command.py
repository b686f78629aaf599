"""Custom items from programs, like Zabbix's UserParameter, without a shell.

Each ``commands`` entry reads ``item.name: /path/to/program arg ...``. The words
are split the way a shell would split them (quotes work) but no shell runs, so
nothing is ever interpolated. Every tick all programs start together and each
may run ``command_timeout`` seconds; its standard output must be one number.
A program that fails, times out or prints something else is logged (once, until
it works again) and yields no sample: one broken script never stops the agent.
"""

from __future__ import annotations

import math
import os
import shlex
import shutil
import subprocess
import time
from typing import NamedTuple

from gamsi.collector.registry import Input, register
from gamsi.schemas.records import Sample
from gamsi.settings import ConfigError

_GRACE = 0.1


class Command(NamedTuple):
    item: str
    argv: list[str]


def parse_commands(entries: list[str]) -> list[Command]:
    """Parse and check the ``commands`` setting; errors name the entry and what is wrong."""
    out: list[Command] = []
    for i, entry in enumerate(entries):
        where = f"[collector] commands[{i}]"
        item, _, rest = entry.partition(":")
        try:
            argv = shlex.split(rest)
        except ValueError as exc:
            raise ConfigError(f"{where}: cannot split {rest.strip()!r} into words: {exc}") from None
        program = shutil.which(argv[0]) if argv else None
        if program is None:
            raise ConfigError(
                f"{where}: {argv[0] if argv else '(nothing)'!r} is not an executable program; "
                "give an absolute path or a name on PATH"
            )
        out.append(Command(item.strip(), [program, *argv[1:]]))
    return out


def parse_number(stdout: bytes) -> float:
    text = stdout.decode("utf-8", "replace").strip()
    value = float(text)  # ValueError names the text
    if not math.isfinite(value):
        raise ValueError(f"not a finite number: {text!r}")
    return value


@register("command")
class CommandInput(Input):
    def init(self) -> None:
        self._commands = parse_commands(self.config.commands)

    def collect(self, now: float) -> list[Sample]:
        if not self._commands:
            return []
        started = []
        for cmd in self._commands:
            try:
                proc = subprocess.Popen(
                    cmd.argv,
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    start_new_session=True,
                )
            except OSError as exc:
                self.warn_once(cmd.item, f"{cmd.item}: cannot start {cmd.argv[0]}: {exc}")
                continue
            started.append((cmd, proc))
        deadline = time.monotonic() + self.config.effective_command_timeout
        samples: list[Sample] = []
        for cmd, proc in started:
            value = self._finish(cmd, proc, deadline)
            if value is not None:
                self.recovered(cmd.item)
                samples.append(Sample(cmd.item, value))
        return samples

    def _finish(self, cmd: Command, proc: subprocess.Popen[bytes], deadline: float) -> float | None:
        try:
            # A program that already exited still gets a moment to have its output read.
            out, err = proc.communicate(timeout=max(_GRACE, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
            proc.communicate()
            self.warn_once(
                cmd.item,
                f"{cmd.item}: {cmd.argv[0]} ran longer than command_timeout "
                f"({self.config.effective_command_timeout} s) and was killed",
            )
            return None
        if proc.returncode != 0:
            tail = err.decode("utf-8", "replace").strip()[-200:]
            self.warn_once(
                cmd.item, f"{cmd.item}: {cmd.argv[0]} exited with {proc.returncode}: {tail}"
            )
            return None
        try:
            return parse_number(out)
        except ValueError:
            self.warn_once(
                cmd.item,
                f"{cmd.item}: {cmd.argv[0]} printed {out[:80]!r}; expected one number",
            )
            return None
