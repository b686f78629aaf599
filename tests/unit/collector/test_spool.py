from __future__ import annotations

import logging
from pathlib import Path

import pytest

from gamsi.collector.spool import Spool


def drain(spool: Spool) -> list[bytes]:
    out = []
    while (record := spool.peek()) is not None:
        out.append(record[1])
        spool.ack()
    return out


def test_records_come_back_in_order_with_their_keys(tmp_path: Path) -> None:
    spool = Spool(tmp_path, 1 << 20)
    for i in range(5):
        spool.append(b"host-a", f"batch {i}".encode())
    assert len(spool) == 5
    assert spool.peek() == (b"host-a", b"batch 0")
    assert drain(spool) == [f"batch {i}".encode() for i in range(5)]
    assert len(spool) == 0
    assert spool.bytes == 0
    assert not list(tmp_path.iterdir())


def test_records_survive_a_restart_and_numbering_continues(tmp_path: Path) -> None:
    first = Spool(tmp_path, 1 << 20)
    first.append(b"h", b"one")
    first.append(b"h", b"two")
    first.ack()
    second = Spool(tmp_path, 1 << 20)
    second.append(b"h", b"three")
    assert drain(second) == [b"two", b"three"]


def test_when_full_the_oldest_are_dropped_and_counted(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    spool = Spool(tmp_path, 1000)
    payload = b"x" * 186  # 200 bytes with header and key
    for i in range(8):
        spool.append(b"h", payload + bytes([i]))
    assert spool.bytes <= 1000
    assert spool.dropped == 8 - len(spool) == 4
    assert [r[-1] for r in drain(spool)] == [4, 5, 6, 7]
    assert "dropped the oldest batch, 1 dropped so far" in caplog.text


def test_torn_and_leftover_records_are_skipped_not_fatal(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    spool = Spool(tmp_path, 1 << 20)
    for i in range(3):
        spool.append(b"h", f"batch {i}".encode())
    files = sorted(tmp_path.glob("*.rec"))
    files[0].write_bytes(files[0].read_bytes()[:-3])  # a half-written record
    files[1].write_bytes(b"\0" * 40)  # a record whose data never reached the disk
    (tmp_path / f"{99:020d}.tmp").write_bytes(b"GSP1 interrupted")  # crash mid-write
    caplog.set_level(logging.WARNING)
    reopened = Spool(tmp_path, 1 << 20)
    assert drain(reopened) == [b"batch 2"]
    assert reopened.corrupt == 2
    assert "skipping a damaged record" in caplog.text
    assert not list(tmp_path.glob("*.tmp"))
