"""Open file handles of the whole system against the kernel's limit (Linux only).

Read from ``/proc/sys/fs/file-nr``; other systems have no such counter and the
input emits nothing there. Running out of file handles fails every program on
the host at once, usually with misleading errors.
"""

from __future__ import annotations

from gamsi.collector.registry import Input, register
from gamsi.schemas.records import Sample


@register("fd")
class FileHandlesInput(Input):
    def collect(self, now: float) -> list[Sample]:
        fh = self.stats.file_handles()
        if fh is None:
            return []
        samples = [Sample("fd.open", float(fh.open))]
        if fh.max > 0:
            samples.append(Sample("fd.used_pct", fh.open / fh.max * 100.0))
        return samples
