"""The narrow view of the operating system that every collector input reads.

Inputs never call psutil: they read a :class:`SystemStats`, so each one can be
tested against snapshots captured from real hosts (:mod:`gamsi.collector.replay`)
and a port to another platform touches one file (Telegraf's ``PS`` interface,
go.d's ``testdata/`` replays). Values are plain tuples in base units (bytes,
seconds, counts) so that a snapshot is JSON and back without loss. A field that
a platform does not have is ``None``: the input then emits no sample for it
rather than a misleading zero.
"""

from __future__ import annotations

from typing import NamedTuple, Protocol


class CpuTimes(NamedTuple):
    """Seconds spent per state since boot (all cores, or one core)."""

    user: float
    system: float
    idle: float
    nice: float = 0.0
    iowait: float | None = None  # Linux only
    irq: float = 0.0
    softirq: float = 0.0
    steal: float | None = None  # Linux only
    guest: float = 0.0  # already included in user on Linux
    guest_nice: float = 0.0  # already included in nice on Linux


class Memory(NamedTuple):
    total: int
    available: int
    used: int


class Swap(NamedTuple):
    total: int
    used: int


class Partition(NamedTuple):
    device: str
    mountpoint: str
    fstype: str


class DiskUsage(NamedTuple):
    total: int
    used: int
    free: int
    inodes_total: int | None = None  # None where the platform has no inode counts
    inodes_free: int | None = None


class DiskIO(NamedTuple):
    """Cumulative counters of one block device."""

    read_bytes: int
    write_bytes: int
    read_count: int
    write_count: int
    read_time_ms: int
    write_time_ms: int
    busy_time_ms: int | None = None  # Linux and FreeBSD only


class NetIO(NamedTuple):
    """Cumulative counters of one network interface."""

    bytes_recv: int
    bytes_sent: int
    packets_recv: int
    packets_sent: int
    errin: int
    errout: int
    dropin: int
    dropout: int


class ProcInfo(NamedTuple):
    name: str
    cpu_seconds: float  # user + system since the process started
    rss: int
    pid: int | None = None  # with started: which process this is (None: unknown)
    started: float | None = None  # creation time, so a reused pid is another process


class FileHandles(NamedTuple):
    open: int
    max: int


class ClockState(NamedTuple):
    """The kernel's NTP discipline state (Linux adjtimex)."""

    synced: bool
    offset_s: float
    maxerror_s: float


class SystemStats(Protocol):
    """Everything the built-in inputs need to know about the host, and nothing more."""

    def os(self) -> str: ...
    def cpu_count(self) -> int: ...
    def cpu_times(self) -> CpuTimes: ...
    def cpu_times_per_core(self) -> list[CpuTimes]: ...
    def load_avg(self) -> tuple[float, float, float]: ...
    def memory(self) -> Memory: ...
    def swap(self) -> Swap: ...
    def partitions(self) -> list[Partition]: ...
    def disk_usage(self, mountpoint: str) -> DiskUsage: ...
    def disk_io(self) -> dict[str, DiskIO]: ...
    def net_io(self) -> dict[str, NetIO]: ...
    def pid_count(self) -> int: ...
    def processes(self) -> list[ProcInfo]: ...
    def file_handles(self) -> FileHandles | None: ...
    def boot_time(self) -> float: ...
    def clock(self) -> ClockState | None: ...


# The snapshot format (gamsi.collector.replay) stores each call's result under the
# method's name; these say how to rebuild the tuples from JSON.
SNAPSHOT_METHODS: tuple[str, ...] = (
    "os",
    "cpu_count",
    "cpu_times",
    "cpu_times_per_core",
    "load_avg",
    "memory",
    "swap",
    "partitions",
    "disk_io",
    "net_io",
    "pid_count",
    "processes",
    "file_handles",
    "boot_time",
    "clock",
)
