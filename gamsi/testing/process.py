"""A process a test or a benchmark starts and watches (``gamsi streams run``, a broker...).

A driver must fail fast, never wait out a timeout on a process that already died:
:class:`Child` starts a process with its output in a log file, and :meth:`Child.check`
raises :attr:`Child.died` (:class:`ProcessDied`, an ``AssertionError``, unless a subclass
says otherwise: the benchmarks end with a ``SystemExit``) naming it, its exit code and
the last lines of its log. :meth:`Child.kill` makes its exit expected until
:meth:`Child.start` runs it again, so a driver can SIGKILL a process on purpose and keep
checking the others.
"""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path


class ProcessDied(AssertionError):
    """A process the driver started exited while the driver still needed it."""


def tail(path: Path, lines: int = 25) -> str:
    """The last ``lines`` lines of a log file ('' when it cannot be read)."""
    try:
        data = path.read_bytes()[-65536:]
    except OSError:
        return ""
    return "\n".join(data.decode(errors="replace").splitlines()[-lines:])


class Child:
    """A process started at once: output appended to ``log``, its own session (a Ctrl-C
    reaches the driver, which stops it), stopped with SIGTERM on leaving a ``with``."""

    died: type[BaseException] = ProcessDied
    """What :meth:`check` raises (with the message) when the process has exited."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        log: Path,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.log = log
        self.env = env
        self.cwd = cwd
        self.killed = False
        """True after :meth:`kill`, until :meth:`start`: its exit is expected."""
        self.start()

    def start(self) -> None:
        """Start the process (again, after :meth:`kill` or :meth:`stop`)."""
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(
                self.argv,
                env=self.env,
                cwd=self.cwd,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        self.killed = False

    @property
    def pid(self) -> int:
        return self.proc.pid

    def check(self) -> None:
        """Raise :attr:`died` with the log's last lines if the process has exited and was
        not killed on purpose."""
        code = self.proc.poll()
        if code is not None and not self.killed:
            raise self.died(
                f"{self.name} (pid {self.proc.pid}) exited with code {code}; "
                f"last lines of {self.log}:\n{tail(self.log)}"
            )

    def sleep(self, seconds: float, *others: Child) -> None:
        """Sleep, checking this child and ``others`` every 0.2 s."""
        deadline = time.monotonic() + seconds
        while True:
            for child in (self, *others):
                child.check()
            left = deadline - time.monotonic()
            if left <= 0:
                return
            time.sleep(min(0.2, left))

    def kill(self) -> None:
        """SIGKILL (no flush, no commit, no goodbye) and reap; its exit is expected."""
        self.killed = True
        self.proc.kill()
        self.proc.wait()

    def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM, then SIGKILL after ``timeout`` seconds."""
        if self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def __enter__(self) -> Child:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
