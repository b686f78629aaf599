"""Reloading the notifier's routing file: SIGHUP and `gamsi notifier reload`.

`gamsi notifier run` writes its pid to ``<data_dir>/notifier.pid`` and runs under
:func:`gamsi.runner.run_service` with a reload callback: on SIGHUP the settings and
the routing file are read again and checked exactly as at start (parsed strictly,
every channel built, every secret resolved). A good file replaces the routing in
force: the service stops (flushing and committing what it holds) and starts again
with it. A bad one is refused with one log line (``reload failed, keeping the
running configuration: routing.yaml:7: ...``) and the service goes on with the
routing it had — the one it last checked, not the file on disk, so a half-edited
file never takes the notifier down. `gamsi notifier reload` checks the file first
and sends SIGHUP only if it is good, so the operator sees the error at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
import signal
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from gamsi.notifier.routing import RoutingConfig
from gamsi.settings import Settings

log = logging.getLogger(__name__)
PID_NAME = "notifier.pid"


def pid_path(settings: Settings) -> Path:
    """Where the running notifier of this data directory keeps its pid."""
    return settings.data_dir / PID_NAME


def running_pid(settings: Settings) -> int | None:
    """The pid of this data directory's running notifier, or None (no file, a stale pid,
    or a pid that is now some other program)."""
    try:
        pid = int(pid_path(settings).read_text().split()[0])
        os.kill(pid, 0)
    except PermissionError:  # alive, but another user's (systemd runs it as gamsi)
        pass
    except (OSError, ValueError, IndexError):
        return None
    with contextlib.suppress(OSError):  # where /proc exists, it must be `... notifier run`
        args = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        if not any(a == b"notifier" and b == b"run" for a, b in itertools.pairwise(args)):
            return None
    return pid


def signal_reload(settings: Settings) -> int:
    """Send SIGHUP to the running notifier; returns its pid. Raises ProcessLookupError
    when none runs for this data directory, or when it may not be signalled (another
    user's process), with a message saying what to do."""
    pid = running_pid(settings)
    if pid is None:
        raise ProcessLookupError(f"no running notifier (no live pid in {pid_path(settings)})")
    try:
        os.kill(pid, signal.SIGHUP)
    except PermissionError:
        raise ProcessLookupError(
            f"not permitted to signal the notifier (pid {pid}): run this as its user or "
            "root, or `systemctl reload gamsi-notifier`"
        ) from None
    return pid


@dataclass
class Reloadable:
    """The notifier service with the routing that last passed the checks.

    ``read_settings`` re-reads gamsi.toml (the ``-c`` file given at start); ``check``
    turns settings into a checked routing or raises ConfigError.
    """

    config: RoutingConfig
    read_settings: Callable[[], Settings]
    check: Callable[[Settings], RoutingConfig]

    async def service(self, settings: Settings, stop: asyncio.Event) -> None:
        from gamsi.notifier.service import run_notifier

        await run_notifier(settings, stop, self.config)

    def reload(self) -> Settings:
        """For :func:`gamsi.runner.serve`: the new settings, with the routing checked and
        taken; raises ConfigError (the runner logs it and keeps what runs)."""
        settings = self.read_settings()
        config = self.check(settings)
        self.config = config
        log.info("routing reloaded from %s", config.source)
        return settings


def run(settings: Settings, read_settings: Callable[[], Settings]) -> int:
    """`gamsi notifier run`: the service under the runner, its pid in the data directory."""
    from gamsi.notifier.service import checked_config
    from gamsi.runner import run_service

    service = Reloadable(checked_config(settings), read_settings, checked_config)
    path = pid_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"{os.getpid()}\n")
    try:
        return run_service(service.service, settings, reload=service.reload)
    finally:
        with contextlib.suppress(OSError):
            if path.read_text().split()[0] == str(os.getpid()):
                path.unlink()
