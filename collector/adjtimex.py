"""The kernel's clock discipline state through Linux ``adjtimex(2)`` (read only).

A host whose clock drifts stamps its batches wrong, and duration rules then
misjudge. NTP daemons (chrony, ntpd, systemd-timesyncd) steer the kernel clock
and leave their verdict in the kernel: ``adjtimex`` with ``modes = 0`` reads it
without changing anything and needs no privilege, the same source as
node_exporter's timex collector. Imported lazily: only Linux reaches it.
"""

from __future__ import annotations

import ctypes

from gamsi.collector.stats import ClockState

_TIME_ERROR = 5  # adjtimex's return value when the clock is not synchronised
_STA_NANO = 0x2000  # offset is in nanoseconds instead of microseconds

_l = ctypes.c_long
_i = ctypes.c_int


class _Timex(ctypes.Structure):
    # struct timex from <sys/timex.h>; ctypes applies the platform's alignment.
    _fields_ = (
        ("modes", ctypes.c_uint),
        ("offset", _l),
        ("freq", _l),
        ("maxerror", _l),
        ("esterror", _l),
        ("status", _i),
        ("constant", _l),
        ("precision", _l),
        ("tolerance", _l),
        ("time_sec", _l),
        ("time_usec", _l),
        ("tick", _l),
        ("ppsfreq", _l),
        ("jitter", _l),
        ("shift", _i),
        ("stabil", _l),
        ("jitcnt", _l),
        ("calcnt", _l),
        ("errcnt", _l),
        ("stbcnt", _l),
        ("tai", _i),
        ("reserved", _i * 11),
    )


def read_clock() -> ClockState | None:
    """The synchronisation verdict, the PLL offset and the maximum error; None if unknown."""
    libc = ctypes.CDLL(None)  # the running process's symbols, libc among them
    if not hasattr(libc, "adjtimex"):
        return None
    tx = _Timex()
    state = libc.adjtimex(ctypes.byref(tx))
    if state < 0:
        return None
    scale = 1e-9 if tx.status & _STA_NANO else 1e-6
    return ClockState(
        synced=state != _TIME_ERROR, offset_s=tx.offset * scale, maxerror_s=tx.maxerror * 1e-6
    )
