"""A list spec: its model (validated on load, regexes compiled by RE2) and where specs live."""

from __future__ import annotations

import functools
import json
import os
from pathlib import Path
from typing import Any, Literal

import re2
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from threatstream.canonical.vocabulary import TLP, IndicatorType
from threatstream.feeds.limits import MIB

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


class ListSpec(BaseModel):
    """One declarative feed (see :mod:`threatstream.sources.lists` for the meaning of each key)."""

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
    weight: float = Field(default=0.5, ge=0, le=1, description="Trust in the list's reports (merged score).")
    default_confidence: int = Field(
        default=50, ge=0, le=100, description="Confidence of a row that has none."
    )
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


def load_list_specs(directory: Path | None = None) -> dict[Path, ListSpec]:
    """Every ``*.json`` spec in ``directory`` (default: :func:`specs_dir`), by file, sorted by name.

    :raises ListSpecError: a spec is invalid.
    """
    return {path: load_spec(path) for path in sorted((directory or specs_dir()).glob("*.json"))}
