"""Snapshots of real hosts: capture them from psutil, replay them in tests.

``gamsi collector capture FILE`` records a few *frames* (every
:class:`~gamsi.collector.stats.SystemStats` call's answer) a second apart, so
rates have real deltas to work on. :class:`ReplayStats` answers the same calls
from such a file, one frame at a time (:meth:`ReplayStats.advance`). Fixtures
live in tests/fixtures/collector/ and are what the inputs' unit tests run on.
"""

from __future__ import annotations

import socket
import time
from pathlib import Path
from typing import Any

import orjson

from gamsi.collector import stats as st

FORMAT = 1


class ReplayError(ValueError):
    """A snapshot file is missing, malformed, or lacks an answer an input asked for."""


def _plain(value: Any) -> Any:
    if isinstance(value, tuple) and hasattr(value, "_asdict"):
        return value._asdict()
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def snapshot(stats: st.SystemStats) -> dict[str, Any]:
    """One frame: every call's answer, as JSON-ready values."""
    frame: dict[str, Any] = {"t": time.monotonic()}
    for name in st.SNAPSHOT_METHODS:
        frame[name] = _plain(getattr(stats, name)())
    frame["disk_usage"] = {
        p["mountpoint"]: _plain(stats.disk_usage(p["mountpoint"])) for p in frame["partitions"]
    }
    return frame


def capture(stats: st.SystemStats, path: Path, frames: int = 3, gap: float = 1.0) -> dict[str, Any]:
    """Record ``frames`` snapshots ``gap`` seconds apart into ``path`` (JSON)."""
    recorded = []
    for i in range(frames):
        if i:
            time.sleep(gap)
        recorded.append(snapshot(stats))
    doc = {
        "format": FORMAT,
        "host": socket.gethostname(),
        "captured_at": time.time(),
        "frames": recorded,
    }
    path.write_bytes(orjson.dumps(doc, option=orjson.OPT_INDENT_2))
    return doc


class ReplayStats:
    """A :class:`~gamsi.collector.stats.SystemStats` answering from captured frames (from #0)."""

    def __init__(self, frames: list[dict[str, Any]], source: str = "<frames>") -> None:
        if not frames:
            raise ReplayError(f"{source}: no frames")
        self.frames = frames
        self.source = source
        self.index = 0

    @classmethod
    def load(cls, path: str | Path) -> ReplayStats:
        path = Path(path)
        try:
            doc = orjson.loads(path.read_bytes())
        except (OSError, orjson.JSONDecodeError) as exc:
            raise ReplayError(f"{path}: cannot read a snapshot file: {exc}") from None
        if not isinstance(doc, dict) or doc.get("format") != FORMAT:
            raise ReplayError(f"{path}: expected a snapshot document with format {FORMAT}")
        return cls(doc["frames"], str(path))

    def advance(self) -> None:
        """Move to the next frame (the next tick); raises after the last one."""
        if self.index + 1 >= len(self.frames):
            raise ReplayError(f"{self.source}: no frame after #{self.index}")
        self.index += 1

    @property
    def t(self) -> float:
        """The monotonic time the current frame was captured at."""
        return float(self._get("t"))

    def _get(self, key: str) -> Any:
        frame = self.frames[self.index]
        if key not in frame:
            raise ReplayError(f"{self.source}: frame #{self.index} has no {key!r}")
        return frame[key]

    def os(self) -> str:
        return str(self._get("os"))

    def cpu_count(self) -> int:
        return int(self._get("cpu_count"))

    def cpu_times(self) -> st.CpuTimes:
        return st.CpuTimes(**self._get("cpu_times"))

    def cpu_times_per_core(self) -> list[st.CpuTimes]:
        return [st.CpuTimes(**c) for c in self._get("cpu_times_per_core")]

    def load_avg(self) -> tuple[float, float, float]:
        one, five, fifteen = self._get("load_avg")
        return (one, five, fifteen)

    def memory(self) -> st.Memory:
        return st.Memory(**self._get("memory"))

    def swap(self) -> st.Swap:
        return st.Swap(**self._get("swap"))

    def partitions(self) -> list[st.Partition]:
        return [st.Partition(**p) for p in self._get("partitions")]

    def disk_usage(self, mountpoint: str) -> st.DiskUsage:
        usage = self._get("disk_usage")
        if mountpoint not in usage:
            raise FileNotFoundError(f"{self.source}: no usage recorded for {mountpoint}")
        return st.DiskUsage(**usage[mountpoint])

    def disk_io(self) -> dict[str, st.DiskIO]:
        return {k: st.DiskIO(**v) for k, v in self._get("disk_io").items()}

    def net_io(self) -> dict[str, st.NetIO]:
        return {k: st.NetIO(**v) for k, v in self._get("net_io").items()}

    def pid_count(self) -> int:
        return int(self._get("pid_count"))

    def processes(self) -> list[st.ProcInfo]:
        return [st.ProcInfo(**p) for p in self._get("processes")]

    def file_handles(self) -> st.FileHandles | None:
        fh = self._get("file_handles")
        return None if fh is None else st.FileHandles(**fh)

    def boot_time(self) -> float:
        return float(self._get("boot_time"))

    def clock(self) -> st.ClockState | None:
        c = self._get("clock")
        return None if c is None else st.ClockState(**c)
