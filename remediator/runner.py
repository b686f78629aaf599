"""Run one allow-listed script safely: the part shared by the agent and ``where: central``.

:func:`resolve_script` is the allow-list: a script is a plain file name directly inside
the configured scripts directory. The directory and the file must be owned by root and
writable by nobody else (``chmod go-w``), and so must every directory above it (or be
sticky, like /tmp); the file must be a regular, executable file and not a symlink.
Anything else is refused with the reason, before anything runs: a script a non-root
user can change would let that user run code as the agent.

:func:`run_script` executes it the way ``systemd`` runs a unit's ``ExecStart`` and
Zabbix's agent runs ``system.run``, minus the shell: argv is a list (``execve``, never
``sh -c``), the environment is clean (a fixed PATH, a UTF-8 locale and the command's
ids), stdin is /dev/null, the working directory is ``/``, and the script leads its own
process group, so at its timeout the whole group (the script and the children it
started) is killed with SIGKILL. Output (stdout and stderr merged) is captured and
only its tail kept.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import stat
import time
from dataclasses import dataclass
from pathlib import Path

from gamsi.streams.policy.remediate import SCRIPT_NAME

CLEAN_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
DRAIN_SECONDS = 1.0
"""After the script exits, how long to wait for children still holding its output open."""


class Rejected(Exception):
    """The command may not run; ``str()`` is the reason recorded in the audit row."""


@dataclass(frozen=True)
class RunResult:
    exit_code: int  # -1 when killed at the timeout
    duration_s: float
    output: str  # the tail, UTF-8 with replacement characters
    timed_out: bool


def _owned_by_root_only(st: os.stat_result, what: str) -> None:
    if st.st_uid != 0:
        raise Rejected(f"{what} is not owned by root (uid {st.st_uid})")
    if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise Rejected(f"{what} is writable by group or others (mode {stat.S_IMODE(st.st_mode):o})")


def _parents_safe(directory: Path) -> None:
    """Every directory above ``directory`` is root's and writable by nobody else, or is
    sticky like /tmp (OpenSSH's StrictModes walks the path the same way): otherwise another
    user could move the scripts directory aside and put their own in its place."""
    for parent in Path(os.path.realpath(directory)).parents:
        st = os.stat(parent)
        sticky = st.st_mode & stat.S_ISVTX and st.st_uid == 0
        if not sticky:
            _owned_by_root_only(st, f"directory {parent} above the scripts")


def resolve_script(scripts_dir: str, name: str) -> Path:
    """The path of allow-listed script ``name``; raises Rejected with the reason otherwise."""
    if not SCRIPT_NAME.match(name) or ".." in name:
        raise Rejected(f"not allow-listed: {name[:60]!r} is not a plain script name")
    if not scripts_dir:
        raise Rejected("not allow-listed: this host has no scripts directory")
    directory = Path(scripts_dir)
    try:
        _owned_by_root_only(os.stat(directory), f"scripts directory {directory}")
        _parents_safe(directory)
        st = os.lstat(directory / name)
    except FileNotFoundError:
        raise Rejected(f"not allow-listed: no script {name!r} in {directory}") from None
    except OSError as exc:
        raise Rejected(f"not allow-listed: {directory}: {exc.strerror}") from None
    path = directory / name
    if stat.S_ISLNK(st.st_mode):
        raise Rejected(f"not allow-listed: {path} is a symlink")
    if not stat.S_ISREG(st.st_mode):
        raise Rejected(f"not allow-listed: {path} is not a regular file")
    _owned_by_root_only(st, f"script {path}")
    if not st.st_mode & stat.S_IXUSR:
        raise Rejected(f"not allow-listed: {path} is not executable")
    return path


def clean_environment(extra: dict[str, str]) -> dict[str, str]:
    """PATH, a UTF-8 locale and ``extra`` (the command's ids); nothing of the agent's own."""
    return {"PATH": CLEAN_PATH, "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", **extra}


async def run_script(
    path: Path, args: list[str], limit_s: float, output_bytes: int, env: dict[str, str]
) -> RunResult:
    """Run ``path`` with ``args`` (each one argv element), killed with its group after ``limit_s``
    seconds (the binding's timeout).

    Raises Rejected when the kernel refuses to start it (e.g. a NUL byte in an argument,
    a missing interpreter); the caller records that like any other refusal.
    """
    started = time.monotonic()
    try:
        proc = await asyncio.create_subprocess_exec(
            str(path),
            *args,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            env=env,
            cwd="/",
            start_new_session=True,
        )
    except (OSError, ValueError) as exc:
        raise Rejected(f"could not start {path.name}: {exc}") from None
    tail = bytearray()

    async def pump() -> None:
        assert proc.stdout is not None
        while chunk := await proc.stdout.read(65536):
            tail.extend(chunk)
            del tail[:-output_bytes]

    reader = asyncio.create_task(pump())
    timed_out = False
    try:
        await asyncio.wait_for(proc.wait(), limit_s)
    except TimeoutError:
        timed_out = True
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        await proc.wait()
    duration = time.monotonic() - started
    try:
        await asyncio.wait_for(asyncio.shield(reader), DRAIN_SECONDS)
    except TimeoutError:  # a child outside the group still holds the pipe: keep what we have
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reader
        transport = getattr(proc, "_transport", None)  # asyncio has no public close for it
        if transport is not None:
            transport.close()
    return RunResult(
        exit_code=-1 if timed_out else int(proc.returncode or 0),
        duration_s=round(duration, 3),
        output=bytes(tail).decode("utf-8", "replace"),
        timed_out=timed_out,
    )
