"""Frames between the language server and its worker process: a length, then a pickle.

Both ends are this package, started by the same interpreter, so pickle carries our dataclasses
as they are. A frame is a 4-byte big-endian length followed by that many bytes.
"""

from __future__ import annotations

import pickle
import struct
from typing import Any, BinaryIO

_HEADER = struct.Struct(">I")
MAX_FRAME = 1 << 30


def encode(message: Any) -> bytes:
    body = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    return _HEADER.pack(len(body)) + body


class FrameBuffer:
    """Collects bytes as they arrive and hands back each whole message."""

    def __init__(self) -> None:
        self._data = bytearray()

    def feed(self, data: bytes) -> list[Any]:
        self._data += data
        out = []
        while len(self._data) >= _HEADER.size:
            (size,) = _HEADER.unpack_from(self._data)
            if size > MAX_FRAME:
                raise ValueError(f"a frame of {size} bytes is not one of ours")
            end = _HEADER.size + size
            if len(self._data) < end:
                break
            out.append(pickle.loads(bytes(self._data[_HEADER.size : end])))
            del self._data[:end]
        return out


def read_frame(stream: BinaryIO) -> Any | None:
    """The next message from a blocking stream; None at its end."""
    header = _read_exactly(stream, _HEADER.size)
    if header is None:
        return None
    (size,) = _HEADER.unpack(header)
    if size > MAX_FRAME:
        raise ValueError(f"a frame of {size} bytes is not one of ours")
    body = _read_exactly(stream, size)
    return None if body is None else pickle.loads(body)


def _read_exactly(stream: BinaryIO, size: int) -> bytes | None:
    chunks = []
    left = size
    while left:
        chunk = stream.read(left)
        if not chunk:
            return None
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)
