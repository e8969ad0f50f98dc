"""What declarative feeds (list specs, MISP feed specs) share: the keys every spec has,
reading a folder of spec files, and the :class:`SourceSpec` a spec becomes.

A declarative feed is one JSON file whose name is the feed's ``name``; the file is validated
on load and any problem names the file, so a bad spec fails DAG parsing at once.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from threatstream.canonical.vocabulary import TLP
from threatstream.feeds.hook import FeedHook
from threatstream.naming import airflow_name
from threatstream.sources.base import ParseRecord, SourceSpec, SplitRecords

SpecT = TypeVar("SpecT", bound="DeclarativeSpec")


class DeclarativeSpec(BaseModel):
    """The keys of every declarative feed spec; each kind adds its own (and its defaults for
    ``ttl_days``, ``max_reject_ratio``, ``weight``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-z][a-z0-9_]{1,40}$")
    title: str = Field(min_length=1)
    description: str = ""
    base_url: str = Field(pattern=r"^https?://")
    tlp: TLP | None = None
    static_tags: list[str] = Field(default_factory=list)
    auth_header: str | None = None
    key_required: bool = False
    schedule: str = Field(pattern=r"^\S+( \S+){4}$")
    ttl_days: float = Field(default=30, gt=0, le=3650)
    max_reject_ratio: float = Field(default=0.2, ge=0, le=1)
    weight: float = Field(default=0.5, ge=0, le=1, description="Trust in the feed's reports (merged score).")
    default_confidence: int = Field(
        default=50, ge=0, le=100, description="Confidence of a record that has none."
    )


def specs_dir(variable: str, default: Path) -> Path:
    """The folder of a kind's specs: environment ``variable`` when set, else ``default``."""
    configured = os.environ.get(variable)
    return Path(configured) if configured else default


def read_spec(path: Path, model: type[SpecT], error: type[ValueError], kind: str) -> SpecT:
    """Read and validate one spec file of ``model``.

    :raises error: unreadable JSON, a failed validation, or a ``name`` other than the file's;
        the message starts with ``kind`` and the path.
    """
    try:
        spec = model.model_validate(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, json.JSONDecodeError) as err:
        raise error(f"{kind} {path}: cannot read it: {err}") from None
    except ValidationError as err:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(spec)'}: {e['msg']}" for e in err.errors()
        )
        raise error(f"{kind} {path} is invalid: {problems}") from None
    if spec.name != path.stem:
        raise error(f"{kind} {path}: 'name' is {spec.name!r} but must match the file name")
    return spec


def read_specs(directory: Path, read: Callable[[Path], SpecT]) -> dict[Path, SpecT]:
    """Every ``*.json`` spec in ``directory``, read with ``read``, by file, sorted by name."""
    return {path: read(path) for path in sorted(directory.glob("*.json"))}


def hook_subclass(
    spec: DeclarativeSpec, base: type[FeedHook], suffix: str, attributes: dict[str, Any]
) -> type[FeedHook]:
    """A subclass of ``base`` bound to ``spec``: its connection id, name and auth settings,
    plus the kind's own ``attributes``."""
    common = {
        "default_conn_name": airflow_name(spec.name),
        "hook_name": spec.title,
        "auth_header": spec.auth_header or "",
        "key_required": spec.key_required,
    }
    return type(f"{spec.name.title().replace('_', '')}{suffix}", (base,), {**common, **attributes})


def source_spec(
    spec: DeclarativeSpec,
    hook_class: type[FeedHook],
    split_records: SplitRecords,
    parse_record: ParseRecord,
    origin: str,
    *,
    spec_file: Path | None = None,
) -> SourceSpec:
    """The :class:`SourceSpec` of ``spec``; ``origin`` (Markdown) ends its description."""
    return SourceSpec(
        name=spec.name,
        title=spec.title,
        hook_class=hook_class,
        split_records=split_records,
        parse_record=parse_record,
        schedule=spec.schedule,
        default_ttl=timedelta(days=spec.ttl_days),
        max_reject_ratio=spec.max_reject_ratio,
        weight=spec.weight,
        default_confidence=spec.default_confidence,
        description=f"{spec.description}\n\n{origin}",
        spec_file=spec_file,
    )
