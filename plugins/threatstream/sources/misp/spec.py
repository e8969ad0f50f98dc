"""A MISP feed spec: its model (validated on load) and where specs live."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator

from threatstream.canonical.vocabulary import IndicatorType
from threatstream.feeds.limits import MIB
from threatstream.sources import declarative
from threatstream.sources.declarative import DeclarativeSpec
from threatstream.sources.misp.mapping import MISP_TYPES, Rules

#: Where specs live unless ``THREATSTREAM_MISP_SPECS`` names another directory.
DEFAULT_SPECS_DIR = Path(__file__).resolve().parents[4] / "include" / "feeds" / "misp"


class MispSpecError(ValueError):
    """A MISP feed spec file that cannot be used; the message names the file and the problem."""


class MispFeedSpec(DeclarativeSpec):
    """One MISP feed (see :mod:`threatstream.sources.misp` for the meaning of each key)."""

    endpoint: str = Field(default="", description="The feed's folder below the connection's base URL.")
    manifest: str = "manifest.json"
    to_ids_only: bool = True
    types: dict[str, IndicatorType | None] = Field(default_factory=dict)
    ttl_days: float = Field(default=90, gt=0, le=3650)
    max_reject_ratio: float = Field(default=0.5, ge=0, le=1)
    weight: float = Field(default=0.6, ge=0, le=1)
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
    return declarative.specs_dir("THREATSTREAM_MISP_SPECS", DEFAULT_SPECS_DIR)


def load_spec(path: Path) -> MispFeedSpec:
    """Read and validate one spec file.

    :raises MispSpecError: unreadable JSON, a failed validation, or a name other than the file's.
    """
    return declarative.read_spec(path, MispFeedSpec, MispSpecError, "MISP feed spec")


def load_misp_specs(directory: Path | None = None) -> dict[Path, MispFeedSpec]:
    """Every ``*.json`` spec in ``directory`` (default: :func:`specs_dir`), by file, sorted by name.

    :raises MispSpecError: a spec is invalid.
    """
    return declarative.read_specs(directory or specs_dir(), load_spec)
