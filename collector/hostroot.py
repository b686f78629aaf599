"""Reading a host from inside a container: its root filesystem mounted at ``host_root``.

Like node_exporter's ``--path.rootfs``: the container mounts the host's ``/``
(recursively, so its ``/proc`` and ``/sys`` come along) at a directory such as
``/hostfs``, and ``[collector] host_root = "/hostfs"`` makes the agent read the
host instead of the container. psutil reads ``<host_root>/proc`` (its
``PROCFS_PATH``); what ``/proc/self`` would answer for the container — its
mount table and its network namespace — is read from the host's init process
instead (``/proc/1/mounts``, ``/proc/1/net/dev``), and each filesystem's usage
is read at ``<host_root><mountpoint>`` but reported under the host's own
mountpoint (``/``, ``/home``), so a watch on ``/home`` means the same on every
server however its agent runs. Linux only.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from gamsi.collector.stats import NetIO, Partition
from gamsi.config_fields import ConfigError

_OCTAL = re.compile(r"\\([0-7]{3})")


def check_root(host_root: str) -> Path:
    """The host's procfs under ``host_root``; raises ConfigError if it is not there."""
    root = Path(host_root)
    if not root.is_absolute():
        raise ConfigError(f"[collector] host_root: expected an absolute path, got {host_root!r}")
    proc = root / "proc"
    if not (proc / "stat").is_file():
        raise ConfigError(
            f"[collector] host_root: expected the host's / mounted at {host_root} with its "
            f"/proc (e.g. docker -v /:{host_root}:ro), but {proc / 'stat'} does not exist"
        )
    return proc


def _unescape(field: str) -> str:
    """Mount table fields escape space, tab, newline and backslash as octal (\\040)."""
    return _OCTAL.sub(lambda m: chr(int(m[1], 8)), field)


def device_fstypes(proc: Path) -> set[str]:
    """Filesystem types backed by a device (``nodev`` ones excluded but zfs), like psutil."""
    types = set()
    for line in (proc / "filesystems").read_text().splitlines():
        flag, _, fstype = line.rpartition("\t")
        if fstype and (flag.strip() != "nodev" or fstype == "zfs"):
            types.add(fstype.strip())
    return types


def partitions(proc: Path) -> list[Partition]:
    """The host's mounted device filesystems, from its init process's mount table.

    Same selection as ``psutil.disk_partitions(all=False)``: a device and a
    device-backed type. Mountpoints are the host's own paths.
    """
    types = device_fstypes(proc)
    out = []
    for line in (proc / "1" / "mounts").read_text().splitlines():
        fields = line.split()
        if len(fields) < 3:
            continue
        device, mountpoint, fstype = (_unescape(f) for f in fields[:3])
        if device in ("", "none") or fstype not in types:
            continue
        out.append(Partition(device, mountpoint, fstype))
    return out


def inside(host_root: str, mountpoint: str) -> str:
    """Where the host's ``mountpoint`` is seen from here: ``<host_root><mountpoint>``."""
    return os.path.join(host_root, mountpoint.lstrip("/"))


def net_io(proc: Path) -> dict[str, NetIO]:
    """The host's NIC counters from ``/proc/1/net/dev`` (its init's network namespace)."""
    out = {}
    for line in (proc / "1" / "net" / "dev").read_text().splitlines()[2:]:
        name, sep, rest = line.partition(":")
        values = rest.split()
        if not sep or len(values) < 12:
            continue
        rx, tx = [int(v) for v in values[:4]], [int(v) for v in values[8:12]]
        # rx/tx: bytes, packets, errors, drops (proc(5): /proc/net/dev)
        out[name.strip()] = NetIO(rx[0], tx[0], rx[1], tx[1], rx[2], tx[2], rx[3], tx[3])
    return out
