"""The physical lines of a list body, read in chunks with bounded memory."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from threatstream.exceptions import FeedFormatError
from threatstream.parsing.streams import READ_BYTES, ByteStream


class Line(NamedTuple):
    """One physical line: its bytes (whole, or only the first ``keep``), its full size in
    bytes and its number of quote characters."""

    data: bytes
    size: int
    quotes: int


@dataclass
class _LongLine:
    """A line longer than ``keep`` being read past: its head and what has been counted so far."""

    head: bytes
    size: int = 0
    quotes: int = 0
    ends_with_cr: bool = False


class PhysicalLines:
    """The lines of a byte stream (each ending ``\\n``, ``\\r\\n`` or ``\\r``), read in chunks.

    Memory stays bounded: of a line longer than ``keep`` bytes only the first ``keep`` are
    kept (its full size and its quote characters are counted as it is read past); a line
    longer than ``limit`` is no list line at all and fails the run with
    :class:`FeedFormatError`, without retry.
    """

    def __init__(self, stream: ByteStream, *, keep: int, limit: int, what: str) -> None:
        self._stream = stream
        self._keep = keep
        self._limit = limit
        self._what = what
        self._ready: list[Line] = []  # complete lines, last first
        self._tail = b""  # the start of a line whose end has not been read yet
        self._long: _LongLine | None = None
        self._eof = False
        #: The number of the line :meth:`next` returned last (1-based).
        self.number = 0

    def next(self) -> Line | None:
        """The next line; None at the end of the body."""
        while not self._ready:
            if self._eof:
                return None
            self._fill()
        self.number += 1
        return self._ready.pop()

    def _fill(self) -> None:
        data = self._stream.read(READ_BYTES)
        lines: list[Line] = []
        if not data:
            self._eof = True
            if self._long is not None:
                lines.append(self._end_long(b""))
            elif self._tail:
                lines.append(self._line(self._tail))
                self._tail = b""
            self._ready = lines
            return
        if self._long is not None:
            ended, data = self._read_past(data)
            if ended is None:
                return
            lines.append(ended)
        if data:
            parts = (self._tail + data).splitlines(keepends=True)
            # A last part without "\\n" may go on in the next chunk (even after "\\r": "\\r\\n").
            self._tail = b"" if parts[-1].endswith(b"\n") else parts.pop()
            lines += map(self._line, parts)
            if len(self._tail) > self._keep:
                tail, self._tail = self._tail, b""
                self._long = _LongLine(tail[: self._keep])
                self._grow(self._long, tail)
        lines.reverse()
        self._ready = lines

    def _line(self, line: bytes) -> Line:
        if len(line) > self._keep:
            self._check(len(line))
            return Line(line[: self._keep], len(line), line.count(b'"'))
        return Line(line, len(line), line.count(b'"'))

    def _read_past(self, data: bytes) -> tuple[Line | None, bytes]:
        """Read past more of an over-long line: (the line, if it ended in ``data``, and the rest)."""
        long = self._long
        assert long is not None
        if long.ends_with_cr:  # the line ended with "\\r" at the end of the previous chunk
            end = 1 if data.startswith(b"\n") else 0
            return self._end_long(data[:end]), data[end:]
        ends = [i for i in (data.find(b"\n"), data.find(b"\r")) if i >= 0]
        if not ends:
            self._grow(long, data)
            return None, b""
        end = min(ends) + 1
        if data[end - 1 : end] == b"\r":
            if end == len(data):
                self._grow(long, data)
                long.ends_with_cr = True
                return None, b""
            end += data[end : end + 1] == b"\n"
        return self._end_long(data[:end]), data[end:]

    def _grow(self, long: _LongLine, data: bytes) -> None:
        long.size += len(data)
        long.quotes += data.count(b'"')
        self._check(long.size)

    def _end_long(self, data: bytes) -> Line:
        long = self._long
        assert long is not None
        self._grow(long, data)
        self._long = None
        return Line(long.head, long.size, long.quotes)

    def _check(self, size: int) -> None:
        if size > self._limit:
            raise FeedFormatError(
                f"{self._what}: line {self.number + len(self._ready) + 1} is longer than "
                f"max_line_bytes={self._limit}: this is not a list in the spec's format (raise the "
                "spec's 'max_line_bytes' if its lines really are that long)."
            )
