"""Space and inodes per mounted filesystem (instance = mountpoint).

Only real filesystems are read: psutil lists block-device mounts, and the
``disk_exclude_fstypes`` / ``disk_exclude_mounts`` settings drop pseudo and image
filesystems (tmpfs, squashfs snaps, container overlays). Used % is
``used / (used + free)`` like ``df``: blocks reserved for root are not counted
as free, so 100 % means ordinary users cannot write any more. A mount that
cannot be read (a stale NFS handle, no permission) is logged once and skipped.
"""

from __future__ import annotations

from fnmatch import fnmatchcase

from gamsi.collector.registry import Input, register
from gamsi.schemas.records import Sample


@register("disk")
class DiskInput(Input):
    def collect(self, now: float) -> list[Sample]:
        samples: list[Sample] = []
        fstypes = set(self.config.disk_exclude_fstypes)
        seen: set[str] = set()
        for part in self.stats.partitions():
            mount = part.mountpoint
            if part.fstype in fstypes or mount in seen:
                continue
            if any(fnmatchcase(mount, pattern) for pattern in self.config.disk_exclude_mounts):
                continue
            seen.add(mount)
            try:
                u = self.stats.disk_usage(mount)
            except OSError as exc:
                self.warn_once(mount, f"cannot read usage of {mount}: {exc}")
                continue
            self.recovered(mount)
            usable = u.used + u.free
            used_pct = u.used / usable * 100.0 if usable else 0.0
            samples.append(Sample("disk.used_pct", used_pct, mount))
            samples.append(Sample("disk.free_bytes", float(u.free), mount))
            samples.append(Sample("disk.total_bytes", float(u.total), mount))
            if u.inodes_total and u.inodes_free is not None:
                used = u.inodes_total - u.inodes_free
                samples.append(Sample("disk.inodes_used_pct", used / u.inodes_total * 100.0, mount))
        return samples
