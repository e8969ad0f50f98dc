"""Splitting a list body into records: data lines, or CSV rows (a quoted cell may span lines)."""

from __future__ import annotations

import csv
from collections.abc import Iterator, Mapping
from typing import Any

from threatstream.exceptions import FeedFormatError
from threatstream.feeds.pages import FetchedPage
from threatstream.sources.lists.lines import PhysicalLines
from threatstream.sources.lists.spec import ListSpec

#: How much of an oversized record's raw text is kept for its quarantine entry.
RAW_HEAD_CHARS = 1024


class _Oversize(Exception):
    """A record beyond ``max_record_bytes``; its bytes were read past (only a head kept)."""

    def __init__(self, line: int, head: str, size: int) -> None:
        super().__init__(line)
        self.line, self.head, self.size = line, head, size


class _Records:
    """The lines of a list, decoded, fed to the CSV reader one record at a time.

    Blank and comment lines between records are skipped (a line inside a quoted multi-line
    cell is the cell's, whatever it starts with); a leading byte-order mark is dropped. Each
    record's raw text is kept for its quarantine entry; a record beyond ``max_record_bytes``
    raises :class:`_Oversize` once it has been read past (as far as its quotes say it goes).
    """

    def __init__(self, spec: ListSpec, lines: PhysicalLines) -> None:
        self._spec = spec
        self._lines = lines
        self._strip = " \t".replace(spec.delimiter, "")
        self.start = 0
        self.parts: list[str] = []
        self._size = 0
        self._quotes = 0

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        spec = self._spec
        while True:
            line = self._lines.next()
            if line is None:
                raise StopIteration
            number = self._lines.number
            text = line.data.decode("utf-8", "replace")
            if number == 1:
                text = text.removeprefix("\ufeff")
            if not self.parts:
                stripped = text.strip()
                if not stripped or (spec.comment_prefix and stripped.startswith(spec.comment_prefix)):
                    continue
                text = text.lstrip(self._strip) if spec.format == "csv" else stripped
                self.start = number
            self.parts.append(text)
            self._size += line.size
            self._quotes += line.quotes
            if self._size > spec.max_record_bytes:
                self._read_past()
            return text

    def _read_past(self) -> None:
        """Skip the rest of an oversized record (while its quotes are open) and raise."""
        head = "".join(self.parts)[:RAW_HEAD_CHARS]
        while self._spec.format == "csv" and self._quotes % 2:
            line = self._lines.next()
            if line is None:
                break
            self._size += line.size
            self._quotes += line.quotes
            if self._size > self._spec.max_line_bytes:
                raise FeedFormatError(
                    f"list {self._spec.name}: the quoted record from line {self.start} is longer than "
                    f"max_line_bytes={self._spec.max_line_bytes} (an unclosed quote?)"
                )
        oversize = _Oversize(self.start, head, self._size)
        self.take()
        raise oversize

    def take(self) -> tuple[int, str]:
        """The record just read (its first line's number and raw text); starts the next one."""
        record = (self.start, "".join(self.parts))
        self.parts, self._size, self._quotes = [], 0, 0
        return record


def split_list(spec: ListSpec, page: FetchedPage) -> Iterator[Mapping[str, Any]]:
    """The records of a list, streamed: ``{"line", "text"}`` (lines) or ``{"line", "fields"}``
    (CSV), where ``line`` is the number of the record's first line.

    A record that cannot be used alone is passed on with an ``error`` (and ``reason``) so that
    it is quarantined alone: a CSV row with the wrong number of columns (``malformed_row``)
    or a record beyond ``max_record_bytes`` (``record_too_large``, its first bytes kept).

    :raises FeedFormatError: a line (or a quoted record) beyond ``max_line_bytes``.
    """
    with page.open() as stream:
        lines = PhysicalLines(
            stream, keep=spec.max_record_bytes, limit=spec.max_line_bytes, what=f"list {spec.name}"
        )
        records = _Records(spec, lines)
        if spec.format == "lines":
            yield from _line_records(spec, records)
        else:
            yield from _csv_records(spec, records)


def _too_large(oversize: _Oversize, limit: int) -> dict[str, Any]:
    return {
        "line": oversize.line,
        "text": oversize.head,
        "bytes": oversize.size,
        "reason": "record_too_large",
        "error": f"{oversize.size} bytes, more than max_record_bytes={limit}",
    }


def _line_records(spec: ListSpec, records: _Records) -> Iterator[Mapping[str, Any]]:
    while True:
        try:
            text = next(records)
        except StopIteration:
            return
        except _Oversize as oversize:
            yield _too_large(oversize, spec.max_record_bytes)
            continue
        number, _ = records.take()
        yield {"line": number, "text": text}


def _csv_records(spec: ListSpec, records: _Records) -> Iterator[Mapping[str, Any]]:
    header = spec.columns
    while True:
        # A fresh reader after a record it could not finish: the next record starts clean.
        reader = csv.reader(records, delimiter=spec.delimiter, skipinitialspace=spec.skip_initial_space)
        try:
            for cells in reader:
                number, text = records.take()
                if header is None:
                    header = [cell.strip() for cell in cells]
                elif len(cells) != len(header):
                    error = f"{len(header)} columns expected, got {len(cells)}"
                    yield {"line": number, "text": text, "error": error, "reason": "malformed_row"}
                else:
                    yield {"line": number, "fields": dict(zip(header, cells, strict=True))}
            return
        except _Oversize as oversize:
            yield _too_large(oversize, spec.max_record_bytes)
        except csv.Error as error:
            number, text = records.take()
            yield {
                "line": number,
                "text": text[:RAW_HEAD_CHARS],
                "error": str(error),
                "reason": "malformed_row",
            }
