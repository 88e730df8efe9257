"""The consensus write-ahead log: this node's signed messages, and the messages it received.

Records are ``[length u32][crc32 u32][msgpack [own, height, message bytes]]``. The node's
own signed proposals and votes are fsynced before they are sent; received messages are
appended without waiting for the disk. On restart the node restores its own messages for
the current height into the engine (so it can only repeat them, never contradict them)
and replays the received ones. A torn record at the end (a crash mid-write) is dropped;
a damaged record before the end stops the node with a clear message.
"""
from __future__ import annotations

import os
import struct
import zlib
from pathlib import Path

import msgpack

HEADER = struct.Struct(">II")


class WalCorrupt(Exception):
    """The WAL is damaged before its end: refusing to guess what this node signed."""


class ConsensusWal:
    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.records = self._read()
        self._file = open(self.path, "ab")

    def _read(self) -> list[tuple[bool, int, bytes]]:
        if not self.path.exists():
            return []
        data = self.path.read_bytes()
        records, offset = [], 0
        while offset + HEADER.size <= len(data):
            length, crc = HEADER.unpack_from(data, offset)
            body = data[offset + HEADER.size: offset + HEADER.size + length]
            if len(body) < length:
                break  # torn final record
            if zlib.crc32(body) != crc:
                if offset + HEADER.size + length == len(data):
                    break  # torn final record
                raise WalCorrupt(f"consensus WAL {self.path} is damaged at byte {offset}; "
                                 f"refusing to start (a damaged WAL could make this validator double-sign)")
            records.append(self._record(body, offset))
            offset += HEADER.size + length
        if offset != len(data):
            with open(self.path, "r+b") as fh:
                fh.truncate(offset)
        return records

    def _record(self, body: bytes, offset: int) -> tuple[bool, int, bytes]:
        """``(own, height, message)`` of a record body, decoded within the sizes a record can have."""
        try:
            own, height, message = msgpack.unpackb(body, max_array_len=3, max_map_len=0, max_str_len=0, max_ext_len=0)
            if type(own) is bool and type(height) is int and type(message) is bytes:
                return own, height, message
        except (ValueError, TypeError, msgpack.UnpackException):  # TypeError: not an array
            pass
        raise WalCorrupt(f"consensus WAL {self.path} has a record of the wrong shape at byte {offset}; "
                         f"refusing to start (a damaged WAL could make this validator double-sign)")

    def _append(self, own: bool, height: int, message: bytes, sync: bool) -> None:
        body = msgpack.packb([own, height, message], use_bin_type=True)
        self._file.write(HEADER.pack(len(body), zlib.crc32(body)) + body)
        self._file.flush()
        if sync:
            os.fsync(self._file.fileno())
        self.records.append((own, height, message))

    def append_own(self, height: int, message: bytes) -> None:
        """Record a message this node signed; returns once it is on disk."""
        self._append(True, height, message, sync=True)

    def append_received(self, height: int, message: bytes) -> None:
        self._append(False, height, message, sync=False)

    def messages(self, height: int, own: bool) -> list[bytes]:
        return [m for o, h, m in self.records if h == height and o == own]

    def start_height(self, height: int) -> None:
        """Forget records of heights below ``height`` (they are committed), atomically."""
        keep = [r for r in self.records if r[1] >= height]
        tmp = self.path.with_suffix(".tmp")
        with open(tmp, "wb") as fh:
            for own, h, message in keep:
                body = msgpack.packb([own, h, message], use_bin_type=True)
                fh.write(HEADER.pack(len(body), zlib.crc32(body)) + body)
            fh.flush()
            os.fsync(fh.fileno())
        self._file.close()
        os.replace(tmp, self.path)
        self._file = open(self.path, "ab")
        self.records = keep

    def close(self) -> None:
        self._file.close()
