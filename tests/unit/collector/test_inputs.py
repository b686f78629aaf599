"""Every built-in input against frames captured from a real Linux VM."""

from __future__ import annotations

from typing import Any

import pytest

from gamsi.collector.collect import Collector
from gamsi.collector.inputs.cpu import busy_pct
from gamsi.collector.replay import ReplayStats
from gamsi.collector.stats import CpuTimes
from gamsi.schemas.records import Sample
from gamsi.settings import CollectorSettings

REQUIRED_LINUX_ITEMS = {
    "cpu.util",
    "cpu.user",
    "cpu.system",
    "cpu.iowait",
    "cpu.steal",
    "cpu.core.util",
    "load.1",
    "load.per_core",
    "memory.used_pct",
    "memory.available_bytes",
    "swap.used_pct",
    "disk.used_pct",
    "disk.free_bytes",
    "disk.inodes_used_pct",
    "diskio.read_bytes_per_s",
    "diskio.write_bytes_per_s",
    "diskio.busy_pct",
    "diskio.await_ms",
    "net.rx_bits_per_s",
    "net.tx_bits_per_s",
    "net.rx_errors_per_s",
    "net.rx_drops_per_s",
    "proc.count",
    "proc.up",
    "proc.cpu_pct",
    "proc.rss_bytes",
    "fd.open",
    "system.uptime_s",
    "clock.synced",
}


def run(stats: ReplayStats, config: CollectorSettings, ticks: int) -> list[list[Sample]]:
    collector = Collector(config, stats).open()
    out = []
    try:
        for i in range(ticks):
            if i:
                stats.advance()
            out.append(collector.collect(stats.t))
    finally:
        collector.close()
    return out


def by_key(samples: list[Sample]) -> dict[tuple[str, str], float]:
    return {(s.item, s.instance): s.value for s in samples}


def test_first_tick_has_levels_but_no_rates(linux: ReplayStats, config: CollectorSettings) -> None:
    (first,) = run(linux, config, 1)
    items = {s.item for s in first}
    assert "memory.used_pct" in items
    assert "disk.used_pct" in items
    assert "load.1" in items
    assert not {i for i in items if i.startswith(("cpu.", "diskio.", "net."))}
    assert "proc.cpu_pct" not in items


def test_second_tick_has_every_linux_item(linux: ReplayStats, config: CollectorSettings) -> None:
    _, second = run(linux, config, 2)
    assert {s.item for s in second} >= REQUIRED_LINUX_ITEMS
    for s in second:
        if s.item.endswith("_pct") and s.item != "proc.cpu_pct":
            assert 0.0 <= s.value <= 100.0, s


def test_values_match_the_captured_counters(linux: ReplayStats, config: CollectorSettings) -> None:
    f0, f1 = linux.frames[0], linux.frames[1]
    _, second = run(linux, config, 2)
    got = by_key(second)
    elapsed = f1["t"] - f0["t"]
    vda = (f1["disk_io"]["vda"]["write_bytes"] - f0["disk_io"]["vda"]["write_bytes"]) / elapsed
    assert got[("diskio.write_bytes_per_s", "vda")] == pytest.approx(vda)
    assert vda > 0  # the capture ran while a disk writer was busy
    eth0 = (f1["net_io"]["eth0"]["bytes_recv"] - f0["net_io"]["eth0"]["bytes_recv"]) * 8 / elapsed
    assert got[("net.rx_bits_per_s", "eth0")] == pytest.approx(eth0)
    mem = f1["memory"]
    assert got[("memory.used_pct", "")] == pytest.approx(
        (mem["total"] - mem["available"]) / mem["total"] * 100
    )
    ncpu = f1["cpu_count"]
    assert got[("load.per_core", "")] == pytest.approx(f1["load_avg"][0] / ncpu)
    assert {i for (item, i) in got if item == "cpu.core.util"} == {str(n) for n in range(ncpu)}
    assert got[("proc.up", "java")] == 1.0


def test_pseudo_filesystems_partitions_and_loopback_are_skipped(
    linux: ReplayStats, config: CollectorSettings
) -> None:
    _, second = run(linux, config, 2)
    mounts = {s.instance for s in second if s.item == "disk.used_pct"}
    devices = {s.instance for s in second if s.item.startswith("diskio.")}
    nics = {s.instance for s in second if s.item.startswith("net.")}
    assert mounts == {"/"}
    assert devices == {"vda"}  # loop*, zram0 excluded
    assert "lo" not in nics
    assert "eth0" in nics


def test_counter_going_backwards_restarts_the_baseline(
    frames: list[dict[str, Any]], config: CollectorSettings
) -> None:
    # eth0 was reset (driver reload) between frame 0 and 1: no rate, no spike.
    frames[1]["net_io"]["eth0"]["bytes_recv"] = 10
    frames[2]["net_io"]["eth0"]["bytes_recv"] = 10 + 1000
    stats = ReplayStats(frames)
    _, second, third = run(stats, config, 3)
    assert ("net.rx_bits_per_s", "eth0") not in by_key(second)
    # A NIC's counters are one group: the reset seen on one restarts all of them.
    assert ("net.tx_bits_per_s", "eth0") not in by_key(second)
    assert ("net.rx_bits_per_s", "ifb0") in by_key(second)  # other NICs unaffected
    elapsed = frames[2]["t"] - frames[1]["t"]
    assert by_key(third)[("net.rx_bits_per_s", "eth0")] == pytest.approx(8000 / elapsed)


def test_watched_process_going_away_reports_down(
    frames: list[dict[str, Any]], config: CollectorSettings
) -> None:
    frames[1]["processes"] = [p for p in frames[1]["processes"] if p["name"] != "java"]
    _, second = run(ReplayStats(frames), config, 2)
    got = by_key(second)
    assert got[("proc.up", "java")] == 0.0
    assert got[("proc.instances", "java")] == 0.0


def test_platform_without_iowait_steal_inodes_or_fd(
    frames: list[dict[str, Any]], config: CollectorSettings
) -> None:
    """What a Windows/macOS host looks like to the inputs: those items are absent, not 0."""
    for f in frames:
        f["cpu_times"]["iowait"] = f["cpu_times"]["steal"] = None
        for u in f["disk_usage"].values():
            u["inodes_total"] = u["inodes_free"] = None
        f["file_handles"] = f["clock"] = None
    _, second = run(ReplayStats(frames), config, 2)
    items = {s.item for s in second}
    assert "cpu.util" in items
    assert not items & {
        "cpu.iowait",
        "cpu.steal",
        "disk.inodes_used_pct",
        "fd.open",
        "clock.synced",
    }


def test_cpu_busy_excludes_idle_and_iowait_and_counts_guest_once() -> None:
    prev = CpuTimes(user=10, system=10, idle=70, iowait=10, guest=5)
    cur = CpuTimes(user=40, system=20, idle=110, iowait=30, guest=25)
    # guest is inside user: total delta = 30+10+40+20 = 100; busy = 30+10 = 40
    assert busy_pct(prev, cur) == pytest.approx(40.0)
    assert busy_pct(cur, prev) is None  # counters went backwards


def test_a_failing_input_is_contained(
    linux: ReplayStats, config: CollectorSettings, caplog: pytest.LogCaptureFixture
) -> None:
    def broken() -> None:
        raise PermissionError("/proc/loadavg: denied")

    linux.load_avg = broken  # type: ignore[method-assign]
    (first,) = run(linux, config, 1)
    items = {s.item for s in first}
    assert "memory.used_pct" in items
    assert "load.1" not in items
    assert "input load: failed: PermissionError: /proc/loadavg: denied" in caplog.text
