"""Byte streams as parsers read page bodies: the protocol, a raw-stream base, reading ahead."""

from __future__ import annotations

import io
from typing import Any, Protocol


class ByteStream(Protocol):
    """What parsers read a page body from: ``read(size) -> bytes`` and ``close()``."""

    def read(self, size: int = -1, /) -> bytes: ...

    def close(self) -> None: ...


class ChunkReader(io.RawIOBase):
    """A readable raw stream; subclasses return the next chunk (``b""`` at the end) in ``read_chunk``."""

    def read_chunk(self, size: int) -> bytes:
        raise NotImplementedError

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self.read_chunk(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def read(self, size: int | None = -1, /) -> bytes:
        return self.readall() if size is None or size < 0 else self.read_chunk(size)


#: How much one read of a page body asks for (as the JSON parser reads).
READ_BYTES = 1 << 16


def read_head(source: ByteStream, size: int = 1 << 16) -> tuple[bytes, ByteStream]:
    """Up to ``size`` first bytes of ``source``, and a stream that still starts with them."""
    head = read_up_to(source, size)
    return head, ChainedReader(head, source)


class ChainedReader(ChunkReader):
    """``head`` followed by the rest of ``source``."""

    def __init__(self, head: bytes, source: ByteStream) -> None:
        super().__init__()
        self._head = head
        self._offset = 0
        self._source = source

    def read_chunk(self, size: int) -> bytes:
        if self._offset < len(self._head):
            data = self._head[self._offset : self._offset + size]
            self._offset += len(data)
            return data
        return self._source.read(size)


def read_up_to(source: ByteStream, size: int) -> bytes:
    """Up to ``size`` bytes, read in chunks of at most ``READ_BYTES`` (as the parser reads)."""
    parts: list[bytes] = []
    remaining = size
    while remaining > 0:
        data = source.read(min(remaining, READ_BYTES))
        if not data:
            break
        parts.append(data)
        remaining -= len(data)
    return b"".join(parts)
