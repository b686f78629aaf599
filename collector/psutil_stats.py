"""The real :class:`~gamsi.collector.stats.SystemStats`: psutil's portable calls.

This is the only module of the collector that imports psutil. psutil reads
``/proc`` on Linux and the native APIs on Windows and macOS; fields a platform
lacks come back as ``None`` (see docs/items.md for which OS lacks what).
Disk and network counters are read with psutil's ``nowrap`` (the default), so
32-bit kernel counters that wrap are already made monotonic; the rate tracker
still resets its baseline if a counter goes backwards (a driver reload, a
device replaced).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import psutil

from gamsi.collector import hostroot
from gamsi.collector.stats import (
    ClockState,
    CpuTimes,
    DiskIO,
    DiskUsage,
    FileHandles,
    Memory,
    NetIO,
    Partition,
    ProcInfo,
    Swap,
)
from gamsi.config_fields import ConfigError


def _cpu(t: object) -> CpuTimes:
    # Overlaps are not copied twice: Linux counts guest inside user (kept as is,
    # the cpu input knows), and Windows' kernel time (psutil's system) already
    # includes interrupt and DPC time, so psutil's ``interrupt`` is not an irq
    # field here (gopsutil#2125, perfmon: "DPC Time is a component of Privileged Time").
    return CpuTimes(
        user=t.user,  # type: ignore[attr-defined]
        system=t.system,  # type: ignore[attr-defined]
        idle=t.idle,  # type: ignore[attr-defined]
        nice=getattr(t, "nice", 0.0),
        iowait=getattr(t, "iowait", None),
        irq=getattr(t, "irq", 0.0),
        softirq=getattr(t, "softirq", 0.0),
        steal=getattr(t, "steal", None),
        guest=getattr(t, "guest", 0.0),
        guest_nice=getattr(t, "guest_nice", 0.0),
    )


class PsutilStats:
    """Reads the live host through psutil.

    ``host_root`` (Linux): where the host's ``/`` is mounted when the agent runs in
    a container (see :mod:`gamsi.collector.hostroot`); "" reads this system. It sets
    psutil's process-wide ``PROCFS_PATH``. Raises ConfigError if it is not a host root.
    """

    def __init__(self, host_root: str = "") -> None:
        self.host_root = host_root
        self._proc = Path("/proc")
        if host_root:
            if not sys.platform.startswith("linux"):
                raise ConfigError("[collector] host_root: only supported on Linux; expected ''")
            self._proc = hostroot.check_root(host_root)
            psutil.PROCFS_PATH = str(self._proc)

    def os(self) -> str:
        if sys.platform.startswith("linux"):
            return "linux"
        return {"win32": "windows", "darwin": "darwin"}.get(sys.platform, sys.platform)

    def cpu_count(self) -> int:
        return psutil.cpu_count() or 1

    def cpu_times(self) -> CpuTimes:
        return _cpu(psutil.cpu_times())

    def cpu_times_per_core(self) -> list[CpuTimes]:
        return [_cpu(t) for t in psutil.cpu_times(percpu=True)]

    def load_avg(self) -> tuple[float, float, float]:
        return psutil.getloadavg()

    def memory(self) -> Memory:
        m = psutil.virtual_memory()
        return Memory(total=m.total, available=m.available, used=m.total - m.available)

    def swap(self) -> Swap:
        s = psutil.swap_memory()
        return Swap(total=s.total, used=s.used)

    def partitions(self) -> list[Partition]:
        if self.host_root:
            return hostroot.partitions(self._proc)
        return [
            Partition(p.device, p.mountpoint, p.fstype) for p in psutil.disk_partitions(all=False)
        ]

    def disk_usage(self, mountpoint: str) -> DiskUsage:
        if self.host_root:
            mountpoint = hostroot.inside(self.host_root, mountpoint)
        u = psutil.disk_usage(mountpoint)
        if hasattr(os, "statvfs"):
            st = os.statvfs(mountpoint)
            return DiskUsage(u.total, u.used, u.free, st.f_files, st.f_ffree)
        return DiskUsage(u.total, u.used, u.free)

    def disk_io(self) -> dict[str, DiskIO]:
        counters = psutil.disk_io_counters(perdisk=True) or {}
        # psutil's names, in DiskIO's field order (busy_time: Linux and FreeBSD only)
        names = ("read_bytes", "write_bytes", "read_count", "write_count", "read_time")
        return {
            dev: DiskIO(
                *(getattr(c, n) for n in names), c.write_time, getattr(c, "busy_time", None)
            )
            for dev, c in counters.items()
        }

    def net_io(self) -> dict[str, NetIO]:
        if self.host_root:
            return hostroot.net_io(self._proc)
        counters = psutil.net_io_counters(pernic=True) or {}
        return {nic: NetIO(*(getattr(c, f) for f in NetIO._fields)) for nic, c in counters.items()}

    def pid_count(self) -> int:
        return len(psutil.pids())

    def processes(self) -> list[ProcInfo]:
        # process_iter keeps its Process objects between calls (and checks a pid
        # was not recycled), so a per-process CPU reading costs one /proc read.
        out: list[ProcInfo] = []
        for proc in psutil.process_iter():
            try:
                with proc.oneshot():
                    t = proc.cpu_times()
                    out.append(
                        ProcInfo(
                            proc.name(),
                            t.user + t.system,
                            proc.memory_info().rss,
                            proc.pid,
                            proc.create_time(),  # cached by process_iter: no extra read
                        )
                    )
            except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
                continue
        return out

    def file_handles(self) -> FileHandles | None:
        try:
            with open(self._proc / "sys" / "fs" / "file-nr") as f:
                allocated, unused, maximum = (int(x) for x in f.read().split())
        except (OSError, ValueError):
            return None
        return FileHandles(allocated - unused, maximum)

    def boot_time(self) -> float:
        return psutil.boot_time()

    def clock(self) -> ClockState | None:
        if not sys.platform.startswith("linux"):
            return None
        from gamsi.collector.adjtimex import read_clock

        return read_clock()
