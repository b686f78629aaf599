"""Loaded by the worker when a benchmark runs it with --diagnose (PYTHONPATH=bench/diag):
logs every garbage collection that takes >= 5 ms to stderr (the worker's log), with its
generation and wall time, so that a latency spike can be matched with a GC pause, and
every 10 s the collections and the time they took in all. $GAMSI_DIAG_GC_THRESHOLD
("700,10,10") sets gc.set_threshold for an experiment."""

import gc
import os
import sys
import time

_started: list[float] = []
_total = {"n": 0, "s": 0.0, "since": time.monotonic()}
if os.environ.get("GAMSI_DIAG_GC_THRESHOLD"):
    gc.set_threshold(*(int(x) for x in os.environ["GAMSI_DIAG_GC_THRESHOLD"].split(",")))


def _timed(phase: str, info: dict) -> None:
    if phase == "start":
        _started[:] = [time.perf_counter()]
        return
    if not _started:
        return
    took = time.perf_counter() - _started[0]
    _total["n"] += 1
    _total["s"] += took
    if took >= 0.005:
        sys.stderr.write(
            f"[gc-pause] {time.time():.3f} gen {info.get('generation')} "
            f"{took * 1000:.1f} ms collected {info.get('collected')}\n"
        )
    if time.monotonic() - _total["since"] >= 10:
        sys.stderr.write(
            f"[gc-total] {time.time():.3f} {_total['n']} collections, "
            f"{_total['s'] * 1000:.0f} ms in {time.monotonic() - _total['since']:.1f} s\n"
        )
        _total.update(n=0, s=0.0, since=time.monotonic())


gc.callbacks.append(_timed)
