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
``confidence``, ``tags`` (field specs like ``value``); ``tags_separator``; ``static_tags``;
``metadata_columns``; ``tlp``; ``auth_header`` and ``key_required``; ``ttl_days``;
``schedule`` (cron); ``max_reject_ratio``.

Lists are snapshots (backfill runs skip). IPv4/IPv6 values are typed by the address itself.
Each line fails alone: a row with the wrong number of columns (a feed that added a column)
is quarantined as ``malformed_row``, so a changed layout turns the run red through the
reject ratio instead of storing shifted fields.
"""

from __future__ import annotations

import csv
import json
import os
import re
from collections.abc import Iterator, Mapping, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal, cast

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from threatstream.canonical import InvalidIndicator, ip_indicator_type
from threatstream.hooks.feed import FeedHook, FetchedPage, FetchWindow
from threatstream.models import Observation, new_observation
from threatstream.parsing import parse_timestamp
from threatstream.sources.base import SourceSpec
from threatstream.vocabulary import TLP, IndicatorType

#: Where specs live unless ``THREATSTREAM_LIST_SPECS`` names another directory.
DEFAULT_SPECS_DIR = Path(__file__).resolve().parents[3] / "include" / "feeds" / "lists"
IP_TYPES = frozenset({IndicatorType.IPV4, IndicatorType.IPV6})


class ListSpecError(ValueError):
    """A list spec file that cannot be used; the message names the file and the problem."""


def _compile(pattern: str | None) -> str | None:
    if pattern is not None:
        try:
            re.compile(pattern)
        except re.error as err:
            raise ValueError(f"bad regex {pattern!r}: {err}") from None
    return pattern


class FieldSpec(BaseModel):
    """Where a field is: a CSV column (name or 0-based index) and/or a regex over it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    column: str | int | None = None
    regex: str | None = None

    _check_regex = field_validator("regex")(_compile)


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
    tags: FieldSpec | None = None
    tags_separator: str = ","
    static_tags: list[str] = Field(default_factory=list)
    metadata_columns: list[str | int] = Field(default_factory=list)
    tlp: TLP | None = None
    auth_header: str | None = None
    key_required: bool = False
    ttl_days: float = Field(default=30, gt=0, le=3650)
    schedule: str = Field(pattern=r"^\S+( \S+){4}$")
    max_reject_ratio: float = Field(default=0.2, ge=0, le=1)

    @model_validator(mode="after")
    def _consistent(self) -> ListSpec:
        if (self.indicator_type is None) == (self.type_column is None):
            raise ValueError("set exactly one of 'indicator_type' and 'type_column'")
        if self.type_column is not None and not self.type_map:
            raise ValueError("'type_column' needs a 'type_map' (feed label -> indicator type)")
        fields = [self.value, self.first_seen, self.last_seen, self.confidence, self.tags]
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
    def rules(self) -> dict[str, TypeRule]:
        return {
            label: rule if isinstance(rule, TypeRule) else TypeRule(type=rule)
            for label, rule in self.type_map.items()
        }


# -- reading a page ---------------------------------------------------------------------------


def split_list(spec: ListSpec, page: FetchedPage) -> Sequence[Mapping[str, Any]]:
    """One record per data line: ``{"line", "text"}`` (lines), ``{"line", "fields"}`` (CSV), or
    ``{"line", "text", "error"}`` for a CSV row whose column count is wrong."""
    text = page.body.decode("utf-8", "replace")
    records: list[Mapping[str, Any]] = []
    header = spec.columns
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or (spec.comment_prefix and line.startswith(spec.comment_prefix)):
            continue
        if spec.format == "lines":
            records.append({"line": number, "text": line})
            continue
        cells = next(csv.reader([line], delimiter=spec.delimiter, skipinitialspace=spec.skip_initial_space))
        if header is None:
            header = [cell.strip() for cell in cells]
            continue
        if len(cells) != len(header):
            error = f"{len(header)} columns expected, got {len(cells)}"
            records.append({"line": number, "text": line, "error": error})
        else:
            records.append({"line": number, "fields": dict(zip(header, cells, strict=True))})
    return records


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
    match = re.search(field.regex, value)
    if match is None:
        raise InvalidIndicator("no_match", f"{value[:80]!r} does not match {field.regex!r}")
    groups = {k: v for k, v in match.groupdict().items() if v is not None}
    return groups.pop("value", match.group(0)), groups


def _optional(spec: ListSpec, record: Mapping[str, Any], field: FieldSpec | None) -> str | None:
    return None if field is None else _extract(spec, record, field)[0]


def _confidence(text: str | None) -> int | None:
    return int(text) if text is not None and text.isdigit() and int(text) <= 100 else None


def parse_list_record(spec: ListSpec, record: Mapping[str, Any]) -> Observation:
    """One data line -> one observation, as the spec says."""
    if "error" in record:
        raise InvalidIndicator("malformed_row", f"line {record['line']}: {record['error']}")
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
    tags = _optional(spec, record, spec.tags)
    metadata: dict[str, Any] = {"line": record["line"], **groups}
    metadata.update({str(column): _cell(spec, record, column) for column in spec.metadata_columns})
    return new_observation(
        {
            "indicator_type": indicator_type,
            "value": value,
            "confidence": _confidence(_optional(spec, record, spec.confidence)),
            "tags": (
                *(t.strip() for t in (tags or "").split(spec.tags_separator) if t.strip()),
                *spec.static_tags,
            ),
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
        """Yield the list (one file)."""
        yield FetchedPage(body=self.get(self.endpoint).content)


def to_source(spec: ListSpec) -> SourceSpec:
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
        },
    )

    def split_records(page: FetchedPage) -> Sequence[Mapping[str, Any]]:
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
    """The source spec of every ``*.json`` list spec, sorted by name.

    :raises ListSpecError: a spec is invalid or reuses the name of a built-in source.
    """
    from threatstream.sources import SOURCES

    sources = [to_source(load_spec(path)) for path in sorted((directory or specs_dir()).glob("*.json"))]
    taken = sorted({s.name for s in sources} & set(SOURCES))
    if taken:
        raise ListSpecError(f"list specs {taken} reuse the name of a built-in source")
    return sources
