"""A list spec: its model (validated on load, regexes compiled by RE2) and where specs live."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any, Literal

import re2
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from threatstream.canonical.vocabulary import IndicatorType
from threatstream.feeds.limits import MIB
from threatstream.sources import declarative
from threatstream.sources.declarative import DeclarativeSpec

#: Where specs live unless ``THREATSTREAM_LIST_SPECS`` names another directory.
DEFAULT_SPECS_DIR = Path(__file__).resolve().parents[4] / "include" / "feeds" / "lists"
KIB = 1 << 10


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


class ListSpec(DeclarativeSpec):
    """One declarative feed (see :mod:`threatstream.sources.lists` for the meaning of each key)."""

    endpoint: str = Field(min_length=1)
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
    metadata_columns: list[str | int] = Field(default_factory=list)
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
        """The ``type_map``, each entry as a :class:`TypeRule`."""
        return {
            label: rule if isinstance(rule, TypeRule) else TypeRule(type=rule)
            for label, rule in self.type_map.items()
        }


def specs_dir() -> Path:
    """The directory of list specs (``THREATSTREAM_LIST_SPECS`` or ``include/feeds/lists``)."""
    return declarative.specs_dir("THREATSTREAM_LIST_SPECS", DEFAULT_SPECS_DIR)


def load_spec(path: Path) -> ListSpec:
    """Read and validate one spec file.

    :raises ListSpecError: unreadable JSON, a failed validation, or a name that differs from
        the file name.
    """
    return declarative.read_spec(path, ListSpec, ListSpecError, "list spec")


def load_list_specs(directory: Path | None = None) -> dict[Path, ListSpec]:
    """Every ``*.json`` spec in ``directory`` (default: :func:`specs_dir`), by file, sorted by name.

    :raises ListSpecError: a spec is invalid.
    """
    return declarative.read_specs(directory or specs_dir(), load_spec)
