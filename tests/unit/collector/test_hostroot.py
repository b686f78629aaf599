"""``[collector] host_root``: the inputs read a host whose / is mounted elsewhere.

The fake root tree in tests/fixtures/collector/hostroot/ is a host as a container
would see it under /hostfs: its procfs (stat, meminfo, diskstats, the init
process's mount table and network namespace) and its filesystems' directories.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import psutil
import pytest

from gamsi.collector.collect import Collector
from gamsi.collector.config import CollectorSettings
from gamsi.collector.psutil_stats import PsutilStats
from gamsi.config_fields import ConfigError

TREE = Path(__file__).parents[2] / "fixtures" / "collector" / "hostroot"
INPUTS = ["cpu", "memory", "swap", "disk", "diskio", "net", "fd", "system", "proc"]

pytestmark = pytest.mark.skipif(not psutil.LINUX, reason="host_root reads a Linux procfs")


@pytest.fixture
def root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private copy of the tree; psutil's process-wide procfs path restored afterwards."""
    monkeypatch.setattr(psutil, "PROCFS_PATH", psutil.PROCFS_PATH)
    shutil.copytree(TREE, tmp_path / "hostfs")
    return tmp_path / "hostfs"


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


def test_inputs_report_the_host_under_host_root(root: Path) -> None:
    config = CollectorSettings(host="h", host_root=str(root), inputs=INPUTS)
    collector = Collector(config).open()
    try:
        collector.collect(100.0)
        edit(root / "proc/stat", "cpu  1000 10 500 8000", "cpu  1600 10 600 8300")
        edit(root / "proc/1/net/dev", "eth0:  123456", "eth0:  133456")
        edit(root / "proc/diskstats", "vda 100 0 2000 50 200", "vda 150 0 2000 50 200")
        samples = {(s.item, s.instance): s.value for s in collector.collect(110.0)}
    finally:
        collector.close()
    # CPU: +6 s user, +1 s system, +3 s idle (psutil divides /proc/stat by 100 ticks/s)
    assert samples[("cpu.util", "")] == pytest.approx(70.0)
    assert samples[("memory.used_pct", "")] == pytest.approx(25.0)  # 2 of 8 GB unavailable
    assert samples[("swap.used_pct", "")] == pytest.approx(25.0)
    # filesystems by the host's own mountpoints, device-backed only, usage read in the tree
    mounts = {i for item, i in samples if item == "disk.total_bytes"}
    assert mounts == {"/", "/srv/my data"}
    st = os.statvfs(root / "srv/my data")
    assert samples[("disk.total_bytes", "/srv/my data")] == st.f_blocks * st.f_frsize
    assert samples[("diskio.reads_per_s", "vda")] == pytest.approx(5.0)
    assert samples[("net.rx_bits_per_s", "eth0")] == pytest.approx(8000.0)
    assert ("net.rx_bits_per_s", "lo") not in samples
    assert samples[("fd.open", "")] == 1024.0
    assert samples[("proc.count", "")] == 1.0  # the tree's one process, not this machine's
    assert samples[("system.uptime_s", "")] > 0


def test_the_host_s_nic_counters_are_parsed_field_by_field(root: Path) -> None:
    eth0 = PsutilStats(str(root)).net_io()["eth0"]
    assert (eth0.bytes_recv, eth0.packets_recv, eth0.errin, eth0.dropin) == (123456, 789, 1, 2)
    assert (eth0.bytes_sent, eth0.packets_sent, eth0.errout, eth0.dropout) == (654321, 987, 3, 4)


@pytest.mark.parametrize(
    ("host_root", "message"),
    [
        ("relative/dir", "[collector] host_root: expected an absolute path, got 'relative/dir'"),
        ("/nonexistent-hostfs", "[collector] host_root: expected the host's / mounted at"),
    ],
)
def test_a_host_root_without_a_procfs_is_a_clear_error(
    host_root: str, message: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(psutil, "PROCFS_PATH", psutil.PROCFS_PATH)
    with pytest.raises(ConfigError) as err:
        PsutilStats(host_root)
    assert str(err.value).startswith(message)
    assert psutil.PROCFS_PATH == "/proc"  # nothing changed on a refusal
