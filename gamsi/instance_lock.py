"""One `gamsi up` per data directory: an ``flock`` on ``<data_dir>/gamsi-up.lock``.

The kernel drops an ``flock`` when its holder dies, so a crash (even SIGKILL) leaves no
stale lock; the pid written into the file is only for the refusal's message. (A pid
file alone would need "is that pid still us?" guessing after a crash.)
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import TextIO

LOCK_NAME = "gamsi-up.lock"


def take_lock(data_dir: Path) -> TextIO:
    """Hold ``<data_dir>/gamsi-up.lock`` (``flock``) for this process's life; returns the
    open file, which must stay open. The kernel drops the lock when the process dies,
    so a crash leaves no stale lock; the pid written in it is only for the message.
    Raises UserError "Gamsi is already running (pid N)" when another process holds it."""
    from gamsi.cli import UserError

    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / LOCK_NAME
    handle = path.open("a+")  # not inherited by children (close-on-exec)
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        pid = handle.read().strip() or "?"
        handle.close()
        raise UserError(
            f"Gamsi is already running (pid {pid}) on {data_dir}; stop it first "
            f"(Ctrl-C in its terminal, or kill {pid})"
        ) from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"{os.getpid()}\n")
    handle.flush()
    return handle


def running_up(data_dir: Path) -> str | None:
    """The pid of the `gamsi up` that holds ``data_dir``'s lock, or None when none does.

    Probes with a shared non-blocking ``flock`` and releases it at once."""
    path = data_dir / LOCK_NAME
    if not path.exists():
        return None
    with path.open("r") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return handle.read().strip() or "?"
        fcntl.flock(handle, fcntl.LOCK_UN)
    return None
