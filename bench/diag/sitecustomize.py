"""Loaded by the worker when a benchmark runs it with --diagnose (PYTHONPATH=bench/diag):
logs every garbage collection that takes >= 5 ms to stderr (the worker's log), with its
generation and wall time, so that a latency spike can be matched with a GC pause."""

import gc
import sys
import time

_started: list[float] = []


def _timed(phase: str, info: dict) -> None:
    if phase == "start":
        _started[:] = [time.perf_counter()]
    elif _started:
        took = time.perf_counter() - _started[0]
        if took >= 0.005:
            sys.stderr.write(
                f"[gc-pause] {time.time():.3f} gen {info.get('generation')} "
                f"{took * 1000:.1f} ms collected {info.get('collected')}\n"
            )


gc.callbacks.append(_timed)
