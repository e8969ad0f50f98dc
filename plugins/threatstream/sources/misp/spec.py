"""A MISP feed spec: its model (validated on load) and where specs live."""

from __future__ import annotations

import json
import os
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from threatstream.canonical.vocabulary import TLP, IndicatorType
from threatstream.feeds.limits import MIB
from threatstream.sources.misp.mapping import MISP_TYPES, Rules

#: Where specs live unless ``THREATSTREAM_MISP_SPECS`` names another directory.
DEFAULT_SPECS_DIR = Path(__file__).resolve().parents[4] / "include" / "feeds" / "misp"


class MispSpecError(ValueError):
    """A MISP feed spec file that cannot be used; the message names the file and the problem."""


class MispFeedSpec(BaseModel):
    """One MISP feed (see :mod:`threatstream.sources.misp` for the meaning of each key)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-z][a-z0-9_]{1,40}$")
    title: str = Field(min_length=1)
    description: str = ""
    endpoint: str = Field(default="", description="The feed's folder below the connection's base URL.")
    base_url: str = Field(pattern=r"^https?://")
    manifest: str = "manifest.json"
    to_ids_only: bool = True
    types: dict[str, IndicatorType | None] = Field(default_factory=dict)
    tlp: TLP | None = None
    static_tags: list[str] = Field(default_factory=list)
    auth_header: str | None = None
    key_required: bool = False
    ttl_days: float = Field(default=90, gt=0, le=3650)
    schedule: str = Field(pattern=r"^\S+( \S+){4}$")
    max_reject_ratio: float = Field(default=0.5, ge=0, le=1)
    weight: float = Field(default=0.6, ge=0, le=1)
    default_confidence: int = Field(default=50, ge=0, le=100)
    max_manifest_bytes: int = Field(default=32 * MIB, gt=0)
    max_event_bytes: int = Field(default=64 * MIB, gt=0)
    max_events_per_run: int = Field(default=500, ge=1, le=100_000)

    @field_validator("endpoint")
    @classmethod
    def _folder(cls, value: str) -> str:
        folder = value.strip("/")
        return f"{folder}/" if folder else ""

    @property
    def rules(self) -> Rules:
        """The mapping rules: the default type map with the spec's ``types`` over it
        (a type mapped to null is left unmapped, i.e. quarantined)."""
        types = dict(MISP_TYPES)
        for misp_type, kind in self.types.items():
            if kind is None:
                types.pop(misp_type, None)
            else:
                types[misp_type] = (kind,)
        return Rules(
            types=types, to_ids_only=self.to_ids_only, tlp=self.tlp, static_tags=tuple(self.static_tags)
        )


def specs_dir() -> Path:
    """The directory of MISP feed specs (``THREATSTREAM_MISP_SPECS`` or ``include/feeds/misp``)."""
    configured = os.environ.get("THREATSTREAM_MISP_SPECS")
    return Path(configured) if configured else DEFAULT_SPECS_DIR


def load_spec(path: Path) -> MispFeedSpec:
    """Read and validate one spec file.

    :raises MispSpecError: unreadable JSON, a failed validation, or a name other than the file's.
    """
    try:
        spec = MispFeedSpec.model_validate(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, json.JSONDecodeError) as err:
        raise MispSpecError(f"MISP feed spec {path}: cannot read it: {err}") from None
    except ValidationError as err:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(spec)'}: {e['msg']}" for e in err.errors()
        )
        raise MispSpecError(f"MISP feed spec {path} is invalid: {problems}") from None
    if spec.name != path.stem:
        raise MispSpecError(f"MISP feed spec {path}: 'name' is {spec.name!r} but must match the file name")
    return spec


def load_misp_specs(directory: Path | None = None) -> dict[Path, MispFeedSpec]:
    """Every ``*.json`` spec in ``directory`` (default: :func:`specs_dir`), by file, sorted by name.

    :raises MispSpecError: a spec is invalid.
    """
    return {path: load_spec(path) for path in sorted((directory or specs_dir()).glob("*.json"))}
