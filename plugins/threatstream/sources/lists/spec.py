"""Generic CSV / plain-list feeds, each configured by a small declarative spec, no Python.

A spec is one JSON file in ``include/feeds/lists/`` (or the directory named by the
``THREATSTREAM_LIST_SPECS`` environment variable); ``dags/threatstream_lists.py`` builds one
DAG per spec through the same factory as every other source, with its own connection
``threatstream_<name>`` (base URL, and the key in the password field if the feed needs one).
A spec that does not validate fails the DAG file's import with the file name and the reason.
Keys (see :class:`ListSpec`):

``name``, ``title``, ``description``; ``endpoint`` (path and query below the connection's
base URL) and ``base_url`` (the public base URL, for the docs); ``format`` (``csv`` or
``lines``); ``comment_prefix`` (``#``); ``columns`` (CSV column names; omitted: the first
row that is not a comment is the header); ``delimiter``; ``skip_initial_space`` (for
``", "``-separated files); ``null_values``; ``value`` (``{"column": name or 0-based index,
"regex": ...}``: a regex's named group ``value`` is the indicator, its other named groups go
to ``raw_metadata``; a line that does not match is quarantined); ``indicator_type`` (fixed)
*or* ``type_column`` plus ``type_map`` (feed label -> type, or ``{"type", "regex"}`` for a
label whose value needs its own regex, e.g. ``ip:port``); ``first_seen``, ``last_seen``,
``confidence`` (field specs like ``value``); ``tags`` (one field spec or a list of them, each
with an optional ``separator``, default ``tags_separator``, ``""`` for a whole cell, and
``exclude``, values that are no tag); ``static_tags``; ``metadata_columns``; ``tlp``;
``auth_header`` and ``key_required``; ``ttl_days``; ``schedule`` (cron);
``max_reject_ratio``; ``max_body_bytes``, ``max_record_bytes`` and ``max_line_bytes``.

Regexes run on RE2, in time linear in the input whatever the pattern; a pattern RE2 cannot
run (backreferences, lookaround) fails the spec when it is loaded. The list is streamed:
fetch stores it while counting its records, validate reads it back record by record, so
memory stays flat. A UTF-8 byte-order mark is dropped; CSV is parsed as CSV (a quoted cell
may span lines); ``\\n``, ``\\r\\n`` and ``\\r`` end lines.

Lists are snapshots (backfill runs skip). IPv4/IPv6 values are typed by the address itself.
Each record fails alone: a row with the wrong number of columns (a feed that added a column)
is quarantined as ``malformed_row``, so a changed layout turns the run red through the
reject ratio instead of storing shifted fields; a record beyond ``max_record_bytes`` is
quarantined as ``record_too_large`` with its first bytes. A line (or a quoted record) beyond
``max_line_bytes`` is no list in the spec's format: the run fails with
:class:`~threatstream.exceptions.FeedFormatError`, without retry.
"""

from __future__ import annotations

import csv
import functools
import json
import os
from collections.abc import Iterator, Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal, cast

import re2
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from threatstream.canonical.addresses import ip_indicator_type
from threatstream.canonical.errors import InvalidIndicator
from threatstream.canonical.vocabulary import TLP, IndicatorType
from threatstream.exceptions import FeedFormatError
from threatstream.feeds.hook import FeedHook
from threatstream.feeds.limits import MIB, FeedLimits
from threatstream.feeds.pages import FetchedPage, FetchWindow
from threatstream.parsing.streams import ByteStream
from threatstream.parsing.timestamps import parse_timestamp
from threatstream.records.indicators import Observation, new_observation
from threatstream.sources.base import SourceSpec

#: Where specs live unless ``THREATSTREAM_LIST_SPECS`` names another directory.
DEFAULT_SPECS_DIR = Path(__file__).resolve().parents[3] / "include" / "feeds" / "lists"
IP_TYPES = frozenset({IndicatorType.IPV4, IndicatorType.IPV6})
KIB = 1 << 10
#: How much of an oversized record's raw text is kept for its quarantine entry.
RAW_HEAD_CHARS = 1024
_READ_BYTES = 1 << 16
_LINE_ENDS = (b"\n", b"\r")


class ListSpecError(ValueError):
    """A list spec file that cannot be used; the message names the file and the problem."""


@functools.lru_cache(maxsize=512)
def compile_regex(pattern: str) -> Any:
    """``pattern`` compiled by RE2, which matches in time linear in the input whatever the
    pattern (no catastrophic backtracking).

    :raises ValueError: the pattern does not parse, or uses what only a backtracking engine
        can run (backreferences, lookahead or lookbehind, possessive quantifiers).
    """
    options = re2.Options()
    options.log_errors = False
    try:
        return re2.compile(pattern, options=options)
    except re2.error as err:
        detail = err.args[0] if err.args else err
        problem = detail.decode("utf-8", "replace") if isinstance(detail, bytes) else detail
        raise ValueError(
            f"bad regex {pattern!r}: {problem} (list specs use RE2 syntax, which matches in linear time: "
            "no backreferences, lookahead or lookbehind)"
        ) from None


def _compile(pattern: str | None) -> str | None:
    if pattern is not None:
        compile_regex(pattern)
    return pattern


class FieldSpec(BaseModel):
    """Where a field is: a CSV column (name or 0-based index) and/or a regex over it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    column: str | int | None = None
    regex: str | None = None

    _check_regex = field_validator("regex")(_compile)


class TagField(FieldSpec):
    """A source of tags: a column (or regex), split on ``separator`` (default: the spec's
    ``tags_separator``; ``""`` keeps the cell whole), without the values in ``exclude``."""

    separator: str | None = None
    exclude: list[str] = Field(default_factory=list)


class TypeRule(BaseModel):
    """A ``type_map`` entry: the indicator type, and optionally a regex for the value."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: IndicatorType
    regex: str | None = None

    _check_regex = field_validator("regex")(_compile)


class ListSpec(BaseModel):
    """One declarative feed (see the module docs for the meaning of each key)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-z][a-z0-9_]{1,40}$")
    title: str = Field(min_length=1)
    description: str = ""
    endpoint: str = Field(min_length=1)
    base_url: str = Field(pattern=r"^https?://")
    format: Literal["csv", "lines"]
    comment_prefix: str | None = "#"
    columns: list[str] | None = None
    delimiter: str = Field(default=",", min_length=1, max_length=1)
    skip_initial_space: bool = False
    null_values: list[str] = Field(default_factory=lambda: ["", "None", "null"])
    value: FieldSpec = FieldSpec()
    indicator_type: IndicatorType | None = None
    type_column: str | int | None = None
    type_map: dict[str, IndicatorType | TypeRule] = Field(default_factory=dict)
    first_seen: FieldSpec | None = None
    last_seen: FieldSpec | None = None
    confidence: FieldSpec | None = None
    tags: TagField | list[TagField] | None = None
    tags_separator: str = Field(default=",", min_length=1)
    static_tags: list[str] = Field(default_factory=list)
    metadata_columns: list[str | int] = Field(default_factory=list)
    tlp: TLP | None = None
    auth_header: str | None = None
    key_required: bool = False
    ttl_days: float = Field(default=30, gt=0, le=3650)
    schedule: str = Field(pattern=r"^\S+( \S+){4}$")
    max_reject_ratio: float = Field(default=0.2, ge=0, le=1)
    max_body_bytes: int = Field(default=32 * MIB, gt=0)
    max_record_bytes: int = Field(default=64 * KIB, ge=1 * KIB, le=128 * KIB)
    max_line_bytes: int = Field(default=1 * MIB, ge=1 * KIB)

    @model_validator(mode="after")
    def _consistent(self) -> ListSpec:
        if (self.indicator_type is None) == (self.type_column is None):
            raise ValueError("set exactly one of 'indicator_type' and 'type_column'")
        if self.type_column is not None and not self.type_map:
            raise ValueError("'type_column' needs a 'type_map' (feed label -> indicator type)")
        if self.max_line_bytes < self.max_record_bytes:
            raise ValueError("'max_line_bytes' must be at least 'max_record_bytes'")
        fields = [self.value, self.first_seen, self.last_seen, self.confidence, *self.tag_fields]
        columns = [f.column for f in fields if f is not None and f.column is not None]
        columns += [*self.metadata_columns, *([self.type_column] if self.type_column is not None else [])]
        if self.format == "lines":
            if columns:
                raise ValueError("a 'lines' feed has no columns: use 'regex' groups instead")
        elif self.value.column is None:
            raise ValueError("a 'csv' feed needs 'value.column'")
        elif self.columns is not None:
            unknown = [c for c in columns if isinstance(c, str) and c not in self.columns]
            if unknown:
                raise ValueError(f"columns {unknown} are not in 'columns'")
        return self

    @property
    def tag_fields(self) -> list[TagField]:
        """Where the tags come from, in order (``tags`` may name one field or several)."""
        if self.tags is None:
            return []
        return self.tags if isinstance(self.tags, list) else [self.tags]

    @property
    def rules(self) -> dict[str, TypeRule]:
        return {
            label: rule if isinstance(rule, TypeRule) else TypeRule(type=rule)
            for label, rule in self.type_map.items()
        }


# -- reading a page ---------------------------------------------------------------------------


class _Oversize(Exception):
    """A record beyond ``max_record_bytes``; its bytes were read past (only a head kept)."""

    def __init__(self, line: int, head: str, size: int) -> None:
        super().__init__(line)
        self.line, self.head, self.size = line, head, size


class _PhysicalLines:
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
        self._ready: list[tuple[bytes, int, int]] = []  # complete lines, last first
        self._tail = b""  # the start of a line whose end has not been read yet
        self._long: list[Any] | None = None  # [head, size, quotes, ends with CR] of a line read past
        self._eof = False
        self.number = 0

    def next(self) -> tuple[bytes, int, int] | None:
        """The next line (whole, or its first ``keep`` bytes), its size in bytes and its number
        of quote characters; None at the end of the body."""
        while not self._ready:
            if self._eof:
                return None
            self._fill()
        self.number += 1
        return self._ready.pop()

    def _fill(self) -> None:
        data = self._stream.read(_READ_BYTES)
        lines: list[tuple[bytes, int, int]] = []
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
                self._long = [tail[: self._keep], 0, 0, False]
                self._grow(tail)
        lines.reverse()
        self._ready = lines

    def _line(self, line: bytes) -> tuple[bytes, int, int]:
        if len(line) > self._keep:
            self._check(len(line))
            return line[: self._keep], len(line), line.count(b'"')
        return line, len(line), line.count(b'"')

    def _read_past(self, data: bytes) -> tuple[tuple[bytes, int, int] | None, bytes]:
        """Read past more of an over-long line: (the line, if it ended in ``data``, and the rest)."""
        assert self._long is not None
        if self._long[3]:  # the line ended with "\\r" at the end of the previous chunk
            end = 1 if data.startswith(b"\n") else 0
            return self._end_long(data[:end]), data[end:]
        ends = [i for i in (data.find(b"\n"), data.find(b"\r")) if i >= 0]
        if not ends:
            self._grow(data)
            return None, b""
        end = min(ends) + 1
        if data[end - 1 : end] == b"\r":
            if end == len(data):
                self._grow(data)
                self._long[3] = True
                return None, b""
            end += data[end : end + 1] == b"\n"
        return self._end_long(data[:end]), data[end:]

    def _grow(self, data: bytes) -> None:
        assert self._long is not None
        self._long[1] += len(data)
        self._long[2] += data.count(b'"')
        self._check(self._long[1])

    def _end_long(self, data: bytes) -> tuple[bytes, int, int]:
        self._grow(data)
        assert self._long is not None
        head, size, quotes, _ = self._long
        self._long = None
        return head, size, quotes

    def _check(self, size: int) -> None:
        if size > self._limit:
            raise FeedFormatError(
                f"{self._what}: line {self.number + len(self._ready) + 1} is longer than "
                f"max_line_bytes={self._limit}: this is not a list in the spec's format (raise the "
                "spec's 'max_line_bytes' if its lines really are that long)."
            )


class _Records:
    """The lines of a list, decoded, fed to the CSV reader one record at a time.

    Blank and comment lines between records are skipped (a line inside a quoted multi-line
    cell is the cell\'s, whatever it starts with); a leading byte-order mark is dropped. Each
    record\'s raw text is kept for its quarantine entry; a record beyond ``max_record_bytes``
    raises :class:`_Oversize` once it has been read past (as far as its quotes say it goes).
    """

    def __init__(self, spec: ListSpec, lines: _PhysicalLines) -> None:
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
            data, size, quotes = line
            number = self._lines.number
            text = data.decode("utf-8", "replace")
            if number == 1:
                text = text.removeprefix("\ufeff")
            if not self.parts:
                stripped = text.strip()
                if not stripped or (spec.comment_prefix and stripped.startswith(spec.comment_prefix)):
                    continue
                text = text.lstrip(self._strip) if spec.format == "csv" else stripped
                self.start = number
            self.parts.append(text)
            self._size += size
            self._quotes += quotes
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
            self._size += line[1]
            self._quotes += line[2]
            if self._size > self._spec.max_line_bytes:
                raise FeedFormatError(
                    f"list {self._spec.name}: the quoted record from line {self.start} is longer than "
                    f"max_line_bytes={self._spec.max_line_bytes} (an unclosed quote?)"
                )
        oversize = _Oversize(self.start, head, self._size)
        self.take()
        raise oversize

    def take(self) -> tuple[int, str]:
        """The record just read (its first line\'s number and raw text); starts the next one."""
        record = (self.start, "".join(self.parts))
        self.parts, self._size, self._quotes = [], 0, 0
        return record


def split_list(spec: ListSpec, page: FetchedPage) -> Iterator[Mapping[str, Any]]:
    """The records of a list, streamed: ``{"line", "text"}`` (lines) or ``{"line", "fields"}``
    (CSV), where ``line`` is the number of the record\'s first line.

    A record that cannot be used alone is passed on with an ``error`` (and ``reason``) so that
    it is quarantined alone: a CSV row with the wrong number of columns (``malformed_row``)
    or a record beyond ``max_record_bytes`` (``record_too_large``, its first bytes kept).

    :raises FeedFormatError: a line (or a quoted record) beyond ``max_line_bytes``.
    """
    with page.open() as stream:
        lines = _PhysicalLines(
            stream, keep=spec.max_record_bytes, limit=spec.max_line_bytes, what=f"list {spec.name}"
        )
        records = _Records(spec, lines)
        if spec.format == "lines":
            yield from _line_records(records)
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


def _line_records(records: _Records) -> Iterator[Mapping[str, Any]]:
    while True:
        try:
            text = next(records)
        except StopIteration:
            return
        except _Oversize as oversize:
            yield _too_large(oversize, records._spec.max_record_bytes)
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


def _cell(spec: ListSpec, record: Mapping[str, Any], column: str | int | None) -> str | None:
    if column is None:
        return cast(str, record["text"])
    fields: Mapping[str, str] = record["fields"]
    if isinstance(column, int):
        cells = list(fields.values())
        raw = cells[column] if -len(cells) <= column < len(cells) else None
    else:
        raw = fields.get(column)
    if raw is None:
        return None
    value = raw.strip()
    return None if value in spec.null_values else value


def _extract(
    spec: ListSpec, record: Mapping[str, Any], field: FieldSpec
) -> tuple[str | None, dict[str, str]]:
    """The field's value (a regex's ``value`` group or whole match) and its other named groups."""
    value = _cell(spec, record, field.column)
    if value is None or field.regex is None:
        return value, {}
    match = compile_regex(field.regex).search(value)
    if match is None:
        raise InvalidIndicator("no_match", f"{value[:80]!r} does not match {field.regex!r}")
    groups = {k: v for k, v in match.groupdict().items() if v is not None}
    return groups.pop("value", match.group(0)), groups


def _optional(spec: ListSpec, record: Mapping[str, Any], field: FieldSpec | None) -> str | None:
    return None if field is None else _extract(spec, record, field)[0]


def _tags(spec: ListSpec, record: Mapping[str, Any]) -> Iterator[str]:
    """The tags of every tag field, in order: split, stripped, without blanks and excluded values."""
    for field in spec.tag_fields:
        text = _extract(spec, record, field)[0]
        if text is None:
            continue
        separator = spec.tags_separator if field.separator is None else field.separator
        for part in text.split(separator) if separator else (text,):
            tag = part.strip()
            if tag and tag not in field.exclude:
                yield tag


def _confidence(text: str | None) -> int | None:
    return int(text) if text is not None and text.isdigit() and int(text) <= 100 else None


def parse_list_record(spec: ListSpec, record: Mapping[str, Any]) -> Observation:
    """One data line -> one observation, as the spec says."""
    if "error" in record:
        reason = record.get("reason", "malformed_row")
        raise InvalidIndicator(reason, f"line {record['line']}: {record['error']}")
    value_field = spec.value
    if spec.indicator_type is not None:
        indicator_type = spec.indicator_type
    else:
        label = _cell(spec, record, spec.type_column)
        rule = spec.rules.get(label or "")
        if rule is None:
            raise InvalidIndicator("unknown_type", f"type {label!r} is not in the spec's type_map")
        indicator_type = rule.type
        if rule.regex is not None:
            value_field = FieldSpec(column=value_field.column, regex=rule.regex)
    value, groups = _extract(spec, record, value_field)
    if value is None:
        raise InvalidIndicator("empty", f"line {record['line']} has no value")
    if indicator_type in IP_TYPES:
        indicator_type = ip_indicator_type(value)
    metadata: dict[str, Any] = {"line": record["line"], **groups}
    metadata.update({str(column): _cell(spec, record, column) for column in spec.metadata_columns})
    return new_observation(
        {
            "indicator_type": indicator_type,
            "value": value,
            "confidence": _confidence(_optional(spec, record, spec.confidence)),
            "tags": (*_tags(spec, record), *spec.static_tags),
            "tlp": spec.tlp,
            "first_seen": parse_timestamp(_optional(spec, record, spec.first_seen)),
            "last_seen": parse_timestamp(_optional(spec, record, spec.last_seen)),
            "raw_metadata": metadata,
        }
    )


# -- the hook and the source spec -------------------------------------------------------------


class ListFeedHook(FeedHook):
    """Downloads one list; subclasses made by :func:`to_source` name the spec's endpoint."""

    endpoint = ""

    def iter_pages(self, window: FetchWindow, **_: Any) -> Iterator[FetchedPage]:
        """Yield the list (one page), streamed to storage rather than held in memory."""
        body = self.open_stream(self.endpoint)
        yield FetchedPage(body, reopen=lambda: self.open_once("GET", self.endpoint))


def to_source(spec: ListSpec, spec_file: Path | None = None) -> SourceSpec:
    """The :class:`SourceSpec` of a list spec: a hook subclass plus the spec-bound parsers."""
    hook_class = type(
        f"{spec.name.title().replace('_', '')}ListHook",
        (ListFeedHook,),
        {
            "default_conn_name": f"threatstream_{spec.name}",
            "hook_name": spec.title,
            "auth_header": spec.auth_header or "",
            "key_required": spec.key_required,
            "endpoint": spec.endpoint,
            "default_limits": FeedLimits(max_body_bytes=spec.max_body_bytes, max_pages=1),
        },
    )

    def split_records(page: FetchedPage) -> Iterator[Mapping[str, Any]]:
        return split_list(spec, page)

    def parse_record(record: Mapping[str, Any], context: Mapping[str, Any]) -> Observation:
        return parse_list_record(spec, record)

    return SourceSpec(
        name=spec.name,
        title=spec.title,
        hook_class=hook_class,
        split_records=split_records,
        parse_record=parse_record,
        schedule=spec.schedule,
        default_ttl=timedelta(days=spec.ttl_days),
        max_reject_ratio=spec.max_reject_ratio,
        description=(
            f"{spec.description}\n\nA declarative {spec.format} list from `{spec.base_url.rstrip('/')}/"
            f"{spec.endpoint.lstrip('/')}` (spec `{spec.name}.json`)."
        ),
        spec_file=spec_file,
    )


def specs_dir() -> Path:
    """The directory of list specs (``THREATSTREAM_LIST_SPECS`` or ``include/feeds/lists``)."""
    configured = os.environ.get("THREATSTREAM_LIST_SPECS")
    return Path(configured) if configured else DEFAULT_SPECS_DIR


def load_spec(path: Path) -> ListSpec:
    """Read and validate one spec file.

    :raises ListSpecError: unreadable JSON, a failed validation, or a name that differs from
        the file name.
    """
    try:
        spec = ListSpec.model_validate(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, json.JSONDecodeError) as err:
        raise ListSpecError(f"list spec {path}: cannot read it: {err}") from None
    except ValidationError as err:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(spec)'}: {e['msg']}" for e in err.errors()
        )
        raise ListSpecError(f"list spec {path} is invalid: {problems}") from None
    if spec.name != path.stem:
        raise ListSpecError(f"list spec {path}: 'name' is {spec.name!r} but must match the file name")
    return spec


def list_sources(directory: Path | None = None) -> list[SourceSpec]:
    """The source spec of every ``*.json`` list spec, sorted by name (the registry, which
    lists them with the built-in sources, refuses a name taken twice).

    :raises ListSpecError: a spec is invalid.
    """
    return [to_source(load_spec(path), path) for path in sorted((directory or specs_dir()).glob("*.json"))]
