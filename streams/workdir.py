"""Each stream worker on a host gets a Faust data directory of its own.

Faust keeps a worker's local files under its ``datadir`` (with the RocksDB store, one
database per table partition, which only one process may open). Several
``gamsi streams run`` processes on one host with the same ``[paths] data_dir`` must
therefore not share it. :func:`claim` hands each process the first free *slot*,
``<data_dir>/faust/worker-N``: it takes an exclusive ``flock`` on the slot's lock file
and holds it for as long as the process lives. The kernel releases the lock when the
process ends, however it ends (SIGKILL included), so a restarted worker takes the same
slot again instead of leaving one directory behind per start, and N workers on a host
use N directories. The idea is the one Faust documents for RocksDB
(``faust/stores/rocksdb.py``: "each worker needs its own --datadir"), done without
asking the operator for one.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import IO

MAX_SLOTS = 256
"""Stream workers one host may run from one data directory."""
LOCK_FILE = "worker.lock"


@dataclass
class Workdir:
    """A claimed Faust data directory: ``path``, held while ``lock`` (an open file) is."""

    path: Path
    lock: IO[str] | None

    def release(self) -> None:
        """Give the slot up (the process ending does the same)."""
        if self.lock is not None:
            self.lock.close()
            self.lock = None


def claim(base: Path) -> Workdir:
    """The first slot ``base/worker-N`` (N = 0, 1, ...) no live process holds, locked.

    Raises OSError naming ``base`` when :data:`MAX_SLOTS` workers already hold one, or
    when the directory cannot be created. Without ``fcntl`` (Windows) the slot is
    ``base/pid-<pid>``, unlocked."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not on the server platforms
        path = base / f"pid-{os.getpid()}"
        path.mkdir(parents=True, exist_ok=True)
        return Workdir(path, None)
    for n in range(MAX_SLOTS):
        path = base / f"worker-{n}"
        path.mkdir(parents=True, exist_ok=True)
        lock = open(path / LOCK_FILE, "a+")  # noqa: SIM115 - held until the process ends
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.close()
            continue
        lock.seek(0)
        lock.truncate()
        lock.write(f"{os.getpid()}\n")  # for a reader: who holds it
        lock.flush()
        return Workdir(path, lock)
    raise OSError(
        f"{base}: {MAX_SLOTS} stream workers on this host already hold a data directory "
        "here; stop one, or give the others another [paths] data_dir"
    )


__all__ = ["LOCK_FILE", "MAX_SLOTS", "Workdir", "claim"]
