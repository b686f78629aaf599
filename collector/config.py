"""The collector's configuration: the ``[collector]`` section of gamsi.toml.

Fields are documented by their ``help`` (docs/configuration.md is generated from it);
:mod:`gamsi.settings` loads and layers them. Checks that span fields run in
``__post_init__`` and raise :class:`~gamsi.config_fields.ConfigError` naming the key.
"""

from __future__ import annotations

import re
import socket
from dataclasses import dataclass

from gamsi.config_fields import ConfigError, opt


@dataclass(frozen=True)
class CollectorSettings:
    """The host agent: what it measures, how often, and its spool while Kafka is away."""

    host: str = opt(socket.gethostname(), "Name this server reports under.")
    tags: list[str] = opt([], "Tags/groups of this server, used by watches and routing.")
    interval: float = opt(10.0, "Seconds between collections; 1 s is supported.")
    inputs: list[str] = opt(
        [
            *("cpu", "load", "memory", "swap", "disk", "diskio"),
            *("net", "proc", "system", "fd", "clock", "command"),
        ],
        "Inputs to run, by registered name (built-ins and gamsi.collector_inputs entry points).",
    )
    processes: list[str] = opt(
        [], "Process names to watch: proc.up (1/0), proc.cpu_pct, proc.rss_bytes per name."
    )
    disk_exclude_mounts: list[str] = opt(
        ["/snap/*", "/var/lib/docker/*", "/run/*"], "Mountpoint globs the disk input skips."
    )
    disk_exclude_fstypes: list[str] = opt(
        ["tmpfs", "devtmpfs", "squashfs", "overlay", "iso9660", "nsfs", "autofs"],
        "Filesystem types the disk input skips (pseudo and read-only image filesystems).",
    )
    diskio_exclude: str = opt(
        r"^(ram|loop|fd|zram|(h|s|v|xv)d[a-z]+|nvme\d+n\d+p|mmcblk\d+p)\d+$",
        "Regular expression of block devices the diskio input skips (RAM disks, loops, "
        "partitions: the whole disk is reported). Same default as node_exporter.",
    )
    net_exclude: list[str] = opt(["lo"], "NIC name globs the net input skips.")
    commands: list[str] = opt(
        [],
        "Custom command items, like Zabbix UserParameter: 'item.name: /path/prog arg ...'. "
        "The words are split like a shell would but no shell runs; stdout must be one number.",
    )
    command_timeout: float = opt(
        0.0,
        "Seconds a custom command may run before it is killed (less than interval); 0 means "
        "half the interval, at most 5 s.",
    )
    spool_dir: str = opt("", "Offline spool directory; empty means <data_dir>/spool.")
    spool_max_bytes: int = opt(
        64 * 1024 * 1024,
        "Size bound of the offline spool; when full the oldest batches are dropped and "
        "counted (collector.spool_dropped).",
    )
    publish_timeout: float = opt(
        5.0, "Seconds to wait for Kafka to acknowledge a batch before spooling it."
    )
    host_root: str = opt(
        "",
        "Where the host's / is mounted when the agent runs in a container (e.g. /hostfs, "
        "like node_exporter's --path.rootfs): /proc, mounts and NICs are read from the "
        "host, filesystems reported by the host's own mountpoints. Empty: this system.",
    )

    @property
    def effective_command_timeout(self) -> float:
        """Seconds a command may run: the setting, or half the interval (at most 5 s)."""
        return self.command_timeout or min(5.0, self.interval / 2)

    def __post_init__(self) -> None:
        if self.interval < 1.0:
            raise ConfigError(f"[collector] interval: expected at least 1.0 s, got {self.interval}")
        if self.commands and not 0 <= self.command_timeout < self.interval:
            raise ConfigError(
                f"[collector] command_timeout: expected 0 (half the interval) or seconds less "
                f"than interval ({self.interval} s), got {self.command_timeout}"
            )
        if self.spool_max_bytes < 64 * 1024:
            raise ConfigError(
                f"[collector] spool_max_bytes: expected at least 65536, got {self.spool_max_bytes}"
            )
        try:
            re.compile(self.diskio_exclude)
        except re.error as exc:
            raise ConfigError(
                f"[collector] diskio_exclude: expected a regular expression: {exc}"
            ) from None
        for i, entry in enumerate(self.commands):
            name, sep, argv = entry.partition(":")
            if not sep or not name.strip() or "." not in name or not argv.strip():
                raise ConfigError(
                    f"[collector] commands[{i}]: expected 'item.name: /path/to/program args', "
                    f"got {entry!r}"
                )
