"""The offline spool: a bounded on-disk queue of batches Kafka has not taken yet.

Edge computing: a server keeps collecting while Kafka is unreachable, and the
history has no hole once it is back. One file per batch, named by a growing
number, so order survives restarts and dropping the oldest is one unlink. A
record is written to a temporary name and renamed into place (atomic on POSIX),
and carries a CRC32: a half-written or torn record found after a crash is
logged, deleted and skipped, never fatal. When the spool outgrows its bound the
oldest records are dropped and counted (:attr:`Spool.dropped`).

Record layout: ``GSP1`` | key length (u16) | value length (u32) | crc32 (u32)
of key + value | key | value.
"""

from __future__ import annotations

import logging
import os
import struct
import zlib
from collections import deque
from pathlib import Path

log = logging.getLogger("gamsi.collector.spool")

_MAGIC = b"GSP1"
_HEADER = struct.Struct(">4sHII")
_SUFFIX = ".rec"


class Spool:
    """FIFO of (key, value) records under ``directory``, at most ``max_bytes`` on disk."""

    def __init__(self, directory: Path, max_bytes: int) -> None:
        self.directory = directory
        self.max_bytes = max_bytes
        self.dropped = 0
        self.corrupt = 0
        directory.mkdir(parents=True, exist_ok=True)
        for tmp in directory.glob("*.tmp"):  # a write interrupted by a crash
            tmp.unlink(missing_ok=True)
        self._files: deque[tuple[int, int]] = deque()
        for path in sorted(directory.glob(f"*{_SUFFIX}")):
            try:
                self._files.append((int(path.stem), path.stat().st_size))
            except (ValueError, OSError):
                log.warning("spool: ignoring unexpected file %s", path)
        self._bytes = sum(size for _, size in self._files)
        self._next = self._files[-1][0] + 1 if self._files else 0
        if self._files:
            log.info("spool: %d batches waiting in %s", len(self._files), directory)

    def __len__(self) -> int:
        return len(self._files)

    @property
    def bytes(self) -> int:
        return self._bytes

    def _path(self, number: int) -> Path:
        return self.directory / f"{number:020d}{_SUFFIX}"

    def append(self, key: bytes, value: bytes) -> None:
        record = _HEADER.pack(_MAGIC, len(key), len(value), zlib.crc32(key + value)) + key + value
        number = self._next
        self._next += 1
        final = self._path(number)
        tmp = final.with_suffix(".tmp")
        with open(tmp, "wb") as f:
            f.write(record)
        os.replace(tmp, final)
        self._files.append((number, len(record)))
        self._bytes += len(record)
        while self._bytes > self.max_bytes and len(self._files) > 1:
            self._drop_oldest()
            self.dropped += 1
            if self.dropped == 1 or self.dropped % 100 == 0:
                log.warning(
                    "spool full (%d bytes): dropped the oldest batch, %d dropped so far",
                    self.max_bytes,
                    self.dropped,
                )

    def _drop_oldest(self) -> None:
        number, size = self._files.popleft()
        self._bytes -= size
        self._path(number).unlink(missing_ok=True)

    def peek(self) -> tuple[bytes, bytes] | None:
        """The oldest intact record, without removing it (torn ones are removed)."""
        while self._files:
            path = self._path(self._files[0][0])
            try:
                data = path.read_bytes()
            except OSError as exc:
                data = b""
                log.warning("spool: cannot read %s: %s", path, exc)
            record = _parse(data)
            if record is not None:
                return record
            log.warning("spool: skipping a damaged record %s (%d bytes)", path.name, len(data))
            self.corrupt += 1
            self._drop_oldest()
        return None

    def records(self) -> list[tuple[bytes, bytes]]:
        """Every intact (key, value), oldest first, removing none (to inspect a spool)."""
        out = []
        for number, _ in self._files:
            try:
                record = _parse(self._path(number).read_bytes())
            except OSError:
                record = None
            if record is not None:
                out.append(record)
        return out

    def ack(self) -> None:
        """Remove the oldest record: it has been delivered."""
        if self._files:
            self._drop_oldest()


def _parse(data: bytes) -> tuple[bytes, bytes] | None:
    if len(data) < _HEADER.size:
        return None
    magic, klen, vlen, crc = _HEADER.unpack_from(data)
    body = data[_HEADER.size :]
    if magic != _MAGIC or len(body) != klen + vlen or zlib.crc32(body) != crc:
        return None
    return body[:klen], body[klen:]
