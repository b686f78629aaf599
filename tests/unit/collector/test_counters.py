"""Values built from counters: no overlap counted twice, no reset turned into a spike.

Timeline tests on scripted readings (issue 9, items 1 and 2): each input is fed
a sequence of counter readings and must give the right value or no sample.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gamsi.collector.inputs.cpu import CpuInput
from gamsi.collector.inputs.diskio import DiskIOInput
from gamsi.collector.inputs.net import NetInput
from gamsi.collector.inputs.proc import ProcInput
from gamsi.collector.registry import Input
from gamsi.collector.replay import ReplayStats
from gamsi.collector.stats import CpuTimes, DiskIO, NetIO, ProcInfo
from gamsi.settings import CollectorSettings

KVM = Path(__file__).parents[2] / "fixtures" / "collector" / "linux-kvm-host.json"


class Script:
    """A SystemStats answering each call from the current reading of a script."""

    def __init__(self, readings: list[dict[str, Any]]) -> None:
        self.readings = readings
        self.i = 0

    def __getattr__(self, name: str) -> Any:
        return lambda: self.readings[self.i][name]


def timeline(input_cls: type[Input], readings: list[dict[str, Any]], step: float = 10.0) -> list:
    """Run one input over the readings, ``step`` seconds apart; samples per tick by key."""
    config = CollectorSettings(host="h", processes=["java"])
    stats = Script(readings)
    inp = input_cls(stats, config)  # type: ignore[arg-type]
    inp.init()
    out = []
    for i in range(len(readings)):
        stats.i = i
        out.append({(s.item, s.instance): s.value for s in inp.collect(i * step)})
    return out


def cpu(**fields: float) -> dict[str, Any]:
    """One reading of a one-core host: the total and core 0 are the same times."""
    times = CpuTimes(**{"user": 0.0, "system": 0.0, "idle": 0.0, **fields})
    return {"cpu_times": times, "cpu_times_per_core": [times]}


# -- item 1: guest time is inside user ------------------------------------------------


def test_guest_inside_user_counts_once() -> None:
    """user +6, guest +5, idle +4 over 10 s: 60 % busy (Gamsi gave 20)."""
    linux = {"iowait": 0.0, "steal": 0.0}
    _, tick = timeline(CpuInput, [cpu(**linux), cpu(user=6, guest=5, idle=4, **linux)])
    assert tick[("cpu.util", "")] == pytest.approx(60.0)
    assert tick[("cpu.core.util", "0")] == pytest.approx(60.0)
    assert tick[("cpu.user", "")] == pytest.approx(60.0)
    assert tick[("cpu.iowait", "")] == tick[("cpu.steal", "")] == 0.0


def test_a_core_busy_only_with_guests_is_100() -> None:
    """user +10, guest +10, idle +0: 100 % (Gamsi emitted no cpu.util at all)."""
    _, tick = timeline(CpuInput, [cpu(), cpu(user=10, guest=10)])
    assert tick[("cpu.util", "")] == pytest.approx(100.0)
    assert tick[("cpu.core.util", "0")] == pytest.approx(100.0)


def test_guest_nice_inside_nice_counts_once() -> None:
    _, tick = timeline(CpuInput, [cpu(), cpu(nice=3, guest_nice=3, system=1, idle=6)])
    assert tick[("cpu.util", "")] == pytest.approx(40.0)
    assert tick[("cpu.system", "")] == pytest.approx(10.0)


def test_kvm_host_fixture_per_core_and_total(config: CollectorSettings) -> None:
    stats = ReplayStats.load(KVM)
    assert any(c.guest > 0 for c in stats.cpu_times_per_core())
    inp = CpuInput(stats, config)
    inp.init()
    ticks = []
    for i in range(3):
        if i:
            stats.advance()
        ticks.append({(s.item, s.instance): s.value for s in inp.collect(stats.t)})
    assert ticks[0] == {}
    cores = [ticks[1][("cpu.core.util", str(n))] for n in range(4)]
    assert cores == pytest.approx([83.0, 55.0, 30.0, 100.0])
    assert ticks[1][("cpu.util", "")] == pytest.approx(67.0)
    assert ticks[1][("cpu.user", "")] == pytest.approx(2.35 / 4 * 100)  # guests included
    assert ticks[2][("cpu.core.util", "2")] == pytest.approx(40.0)  # guest_nice inside nice
    assert ticks[2][("cpu.util", "")] == pytest.approx(69.5)


# -- item 2: a counter that goes backwards ----------------------------------------------


def test_idle_going_back_gives_no_cpu_sample_then_the_right_value() -> None:
    """On a 10 % busy host, idle -0.1 s and user +1 on the second reading: no sample
    (Gamsi gave cpu.util = cpu.core.util = 100), then 10 % from that reading on."""
    readings = [cpu(user=100, idle=900), cpu(user=101, idle=899.9), cpu(user=102, idle=908.9)]
    first, second, third = timeline(CpuInput, readings)
    assert first == second == {}
    assert third[("cpu.util", "")] == pytest.approx(10.0)
    assert third[("cpu.core.util", "0")] == pytest.approx(10.0)
    assert third[("cpu.user", "")] == pytest.approx(10.0)


def test_one_core_going_back_skips_that_core_only() -> None:
    ok = [CpuTimes(user=1, system=0, idle=9), CpuTimes(user=2, system=0, idle=18)]
    back = [CpuTimes(user=5, system=0, idle=5), CpuTimes(user=5, system=0, idle=4.9)]
    readings = [
        {"cpu_times": CpuTimes(user=6, system=0, idle=14), "cpu_times_per_core": [ok[0], back[0]]},
        {
            "cpu_times": CpuTimes(user=7, system=0, idle=22.9),
            "cpu_times_per_core": [ok[1], back[1]],
        },
    ]
    _, tick = timeline(CpuInput, readings)
    assert tick[("cpu.core.util", "0")] == pytest.approx(10.0)
    assert ("cpu.core.util", "1") not in tick


def disk(read_count: int, read_time_ms: int, busy_time_ms: int) -> dict[str, Any]:
    io = DiskIO(4096 * read_count, 0, read_count, 0, read_time_ms, 0, busy_time_ms)
    return {"disk_io": {"vda": io}}


def test_disk_with_a_counter_reset_reports_nothing_that_tick() -> None:
    """read_time went back (device replaced) but read_count did not: await and busy
    would mix a reset and an unreset counter; the device is skipped, then measured."""
    readings = [disk(1000, 5000, 4000), disk(1100, 40, 4500), disk(1200, 240, 5500)]
    _, second, third = timeline(DiskIOInput, readings)
    assert not any(instance == "vda" for _, instance in second)
    assert third[("diskio.await_ms", "vda")] == pytest.approx(2.0)
    assert third[("diskio.busy_pct", "vda")] == pytest.approx(10.0)
    assert third[("diskio.reads_per_s", "vda")] == pytest.approx(10.0)


def nic(bytes_recv: int, errin: int) -> dict[str, Any]:
    return {"net_io": {"eth0": NetIO(bytes_recv, 0, 0, 0, errin, 0, 0, 0)}}


def test_nic_reset_seen_by_one_counter_hides_a_small_counter_grown_past_its_old_value() -> None:
    """A driver reload: errin 5 -> 0, then 7 by the next reading. Read alone, errin grew
    by 2 (false errors); bytes_recv shows the reset, so the whole NIC is skipped."""
    readings = [nic(10_000_000, 5), nic(2_000, 7), nic(12_000, 7)]
    _, second, third = timeline(NetInput, readings)
    assert ("net.rx_errors_per_s", "eth0") not in second
    assert third[("net.rx_errors_per_s", "eth0")] == 0.0
    assert third[("net.rx_bits_per_s", "eth0")] == pytest.approx(8000.0)


def test_process_cpu_is_the_sum_of_per_process_increases() -> None:
    """A worker exits and another process takes the name with 40 s of past CPU: the sum
    of CPU seconds jumps by 10.5 s (1,050 %); only the continuing process's 0.5 s counts."""
    a0, b = ProcInfo("java", 100.0, 1, 1, 1.0), ProcInfo("java", 30.0, 1, 2, 1.0)
    a1, c = ProcInfo("java", 105.0, 1, 1, 1.0), ProcInfo("java", 40.0, 1, 3, 2.0)
    readings = [{"pid_count": 2, "processes": [a0, b]}, {"pid_count": 2, "processes": [a1, c]}]
    _, tick = timeline(ProcInput, readings)
    assert tick[("proc.cpu_pct", "java")] == pytest.approx(50.0)
    assert tick[("proc.instances", "java")] == 2.0


def test_restarted_process_gives_no_cpu_sample_and_a_stopped_one_zero() -> None:
    readings = [
        {"pid_count": 1, "processes": [ProcInfo("java", 100.0, 1, 1, 1.0)]},
        {"pid_count": 1, "processes": [ProcInfo("java", 0.2, 1, 9, 5.0)]},
        {"pid_count": 0, "processes": []},
    ]
    _, restarted, stopped = timeline(ProcInput, readings)
    assert ("proc.cpu_pct", "java") not in restarted
    assert stopped[("proc.cpu_pct", "java")] == 0.0


# -- the rule, for any readings -----------------------------------------------------------

_CPU_FIELDS = ("user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal")


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.fixed_dictionaries(
            {f: st.integers(-200, 500).map(lambda x: x / 100) for f in _CPU_FIELDS}
        ),
        min_size=2,
        max_size=6,
    ),
    st.floats(0, 1),
)
def test_cpu_samples_exist_only_when_no_counter_went_back(
    steps: list[dict[str, float]], guest_share: float
) -> None:
    fields = dict.fromkeys(_CPU_FIELDS, 1000.0) | {"guest": 0.0}
    readings = []
    for step in steps:
        fields = {f: fields[f] + step.get(f, 0.0) for f in fields}
        fields["guest"] += max(0.0, step["user"]) * guest_share
        readings.append(cpu(**copy.deepcopy(fields)))
    ticks = timeline(CpuInput, readings)
    for step, tick in zip(steps[1:], ticks[1:], strict=True):
        went_back = any(step[f] < 0 for f in _CPU_FIELDS)
        if went_back:
            assert tick == {}
        for value in tick.values():
            assert 0.0 <= value <= 100.0 + 1e-9


def test_windows_interrupt_time_is_inside_system_and_counted_once() -> None:
    """psutil on Windows: system is kernel - idle, and kernel time includes interrupt and
    DPC time; adding ``interrupt`` again would make a busy host look less busy."""
    from collections import namedtuple

    from gamsi.collector.psutil_stats import _cpu

    win = namedtuple("scputimes", "user system idle interrupt dpc")
    readings = [
        {"cpu_times": _cpu(win(10, 10, 80, 2, 1)), "cpu_times_per_core": []},
        {"cpu_times": _cpu(win(16, 14, 80, 4, 2)), "cpu_times_per_core": []},
    ]
    _, tick = timeline(CpuInput, readings)
    assert tick[("cpu.util", "")] == pytest.approx(100.0)  # +6 user, +4 system, +0 idle
