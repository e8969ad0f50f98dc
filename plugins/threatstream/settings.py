"""The ``[threatstream]`` configuration section: every option, its type, default and check, once.

:class:`ThreatStreamSettings` declares each option as a typed field whose metadata carries
its description, example and bounds. :func:`settings` reads them all through Airflow's
``conf`` (so ``airflow.cfg`` and ``AIRFLOW__THREATSTREAM__<OPTION>`` both work) and checks
them at once; a bad value raises :class:`SettingsError` naming the option. The defaults
live here, not only in the provider's config section, because a plugins-folder deployment
(Astro, MWAA ``plugins.zip``, docker-compose) never registers that section with Airflow.
:func:`config_section` derives the provider's ``config`` section from the same fields.

An empty value means the option's default.
"""

from __future__ import annotations

import dataclasses
import json
import math
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any, Final, Literal

#: The configuration section (``[threatstream]``, ``AIRFLOW__THREATSTREAM__*``).
SECTION: Final = "threatstream"
#: The package version that introduced the options declared without one.
FIRST_VERSION: Final = "0.1.0"

OptionType = Literal["string", "integer", "float", "boolean"]

_TYPES: Final[Mapping[type, OptionType]] = {str: "string", int: "integer", float: "float", bool: "boolean"}
_TRUE: Final = frozenset({"t", "true", "1", "yes", "y", "on"})
_FALSE: Final = frozenset({"f", "false", "0", "no", "n", "off"})


class SettingsError(ValueError):
    """A ``[threatstream]`` option holds a value the package cannot use; the message names it."""


@dataclass(frozen=True)
class OptionSpec:
    """What an option means and which values it takes (besides its type).

    :param description: one or two sentences for ``airflow config list`` and the docs.
    :param example: a typical value, when the default does not show the form.
    :param minimum: smallest allowed number (inclusive).
    :param maximum: largest allowed number (inclusive).
    :param positive: numbers must be above zero.
    :param choices: the allowed strings.
    :param json_object: the string must be a JSON object.
    :param version_added: the package version that introduced the option.
    """

    description: str
    example: str | None = None
    minimum: float | None = None
    maximum: float | None = None
    positive: bool = False
    choices: tuple[str, ...] = ()
    json_object: bool = False
    version_added: str = FIRST_VERSION


@dataclass(frozen=True)
class Option:
    """One declared option: its name, type, default and :class:`OptionSpec`."""

    name: str
    type: OptionType
    default: str | int | float | bool | None
    spec: OptionSpec

    @property
    def env_var(self) -> str:
        return f"AIRFLOW__{SECTION.upper()}__{self.name.upper()}"

    def parse(self, raw: str | None) -> Any:
        """``raw`` (the configured text) as this option's typed value; empty: the default."""
        text = "" if raw is None else str(raw).strip()
        if not text:
            return self.default
        value = self._convert(text)
        problem = self._problem(value)
        if problem:
            raise SettingsError(
                f"[{SECTION}] {self.name} {problem}, got {text!r} (set in airflow.cfg or {self.env_var})"
            )
        return value

    def _convert(self, text: str) -> Any:
        try:
            if self.type == "integer":
                return int(text)
            if self.type == "float":
                return float(text)
        except ValueError:
            kind = "an integer" if self.type == "integer" else "a number"
            raise SettingsError(
                f"[{SECTION}] {self.name} must be {kind}, got {text!r} (set in airflow.cfg or {self.env_var})"
            ) from None
        if self.type == "boolean":
            lowered = text.lower()
            if lowered not in _TRUE | _FALSE:
                raise SettingsError(
                    f"[{SECTION}] {self.name} must be true or false, got {text!r} "
                    f"(set in airflow.cfg or {self.env_var})"
                )
            return lowered in _TRUE
        return text

    def _problem(self, value: Any) -> str | None:
        """Why ``value`` is not allowed, or None."""
        spec = self.spec
        if isinstance(value, float) and not math.isfinite(value):
            return "must be a finite number"
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if spec.positive and value <= 0:
                return "must be above 0"
            if spec.minimum is not None and value < spec.minimum:
                return f"must be at least {spec.minimum:g}"
            if spec.maximum is not None and value > spec.maximum:
                return f"must be at most {spec.maximum:g}"
        if spec.choices and value not in spec.choices:
            return f"must be one of {', '.join(spec.choices)}"
        if spec.json_object:
            try:
                decoded = json.loads(value)
            except json.JSONDecodeError as err:
                return f"is not JSON ({err})"
            if not isinstance(decoded, dict):
                return "must be a JSON object"
        return None

    def provider_entry(self) -> dict[str, Any]:
        """This option in the provider ``config`` schema (defaults as Airflow writes them)."""
        default = self.default
        return {
            "description": self.spec.description,
            "version_added": self.spec.version_added,
            "type": self.type,
            "example": self.spec.example,
            "default": None if default is None else str(default),
        }


def _option(
    default: Any,
    description: str,
    *,
    example: str | None = None,
    minimum: float | None = None,
    maximum: float | None = None,
    positive: bool = False,
    choices: tuple[str, ...] = (),
    json_object: bool = False,
) -> Any:
    """A settings field: ``default`` plus its :class:`OptionSpec` as metadata."""
    spec = OptionSpec(
        description=description,
        example=example,
        minimum=minimum,
        maximum=maximum,
        positive=positive,
        choices=choices,
        json_object=json_object,
    )
    return field(default=default, metadata={"option": spec})


@dataclass(frozen=True)
class ThreatStreamSettings:
    """Every ``[threatstream]`` option, typed; build it with :func:`settings`."""

    storage_base: str = _option(
        "",
        "Where raw pages and batch files are written (any ObjectStoragePath URL). Empty: "
        "file://$AIRFLOW_HOME/threatstream, which only works when all tasks share a disk.",
        example="abfs://threatstream-batches/",
    )
    storage_conn_id: str = _option(
        "",
        "Airflow connection holding the credentials for storage_base. Empty: none.",
        example="threatstream_storage",
    )
    retention_days: float = _option(
        30.0, "The maintenance DAG deletes batch files of runs older than this many days.", positive=True
    )
    quarantine_retention_days: float = _option(
        90.0, "Quarantine files are kept this many days (at least retention_days).", positive=True
    )
    retries: int = _option(3, "Task retries, with doubling backoff.", minimum=0)
    retry_delay_seconds: float = _option(60.0, "First delay between task retries, in seconds.", minimum=0)
    deadline_minutes: float | None = _option(
        None,
        "Freshness deadline of every DAG, in minutes after a run is queued (0 disables). A DAG's "
        "own option wins: its short name + _deadline_minutes, e.g. otx_deadline_minutes. "
        "Empty: the schedule's period.",
        example="90",
        minimum=0,
    )
    max_active_tasks: int = _option(4, "Most tasks of one source DAG running at once.", minimum=1)
    feed_concurrency: int = _option(
        1, "Most fetch tasks of one feed running at once, across runs and backfills.", minimum=1
    )
    cosmos_concurrency: int = _option(
        1, "Most upsert tasks of one source DAG writing to Cosmos DB at once.", minimum=1
    )
    use_pools: bool = _option(
        False, "Run fetch and upsert in the ThreatStream pools (create the pools first)."
    )
    warn_reject_ratio: float = _option(
        0.1,
        "Alert reject_ratio_high above this share of quarantined records "
        "(the run fails above its max_reject_ratio param).",
        minimum=0,
        maximum=1,
    )
    warn_warninglist_ratio: float = _option(
        0.05,
        "Alert warninglist_hits above this share of a run's records on MISP warninglists "
        "(flagged or quarantined).",
        minimum=0,
        maximum=1,
    )
    zero_records_min_usual: float = _option(
        10.0, "Alert zero_records only for feeds whose recent median count is at least this.", minimum=0
    )
    quota_warn_fraction: float = _option(
        0.2, "Alert quota_low when at most this share of a feed's quota is left.", minimum=0, maximum=1
    )
    alert_payload: str = _option(
        "slack",
        'Body of alert webhooks: slack ({"text"}, also Teams connectors) or teams_workflow (Adaptive Card).',
        choices=("slack", "teams_workflow"),
    )
    scoring: str = _option(
        "",
        "Scoring policy overrides for the merged view, as a JSON object. Empty: the built-in policy.",
        example='{"source_weights": {"otx": 0.8}, "half_life_days": {"URL": 7}}',
        json_object=True,
    )
    merged_container: str = _option("indicators_merged", "Cosmos DB container of the merged view.")
    warninglists: str = _option(
        "",
        "MISP warninglists every indicator is checked against in validate: comma-separated list "
        "names (folders of misp-warninglists), default for the default set, none for no check. "
        "Empty: the default set (docs/warninglists.md).",
        example="default,sinkholes",
    )
    warninglist_policy: str = _option(
        "",
        "What a warninglist hit does, per list category (false_positive, known) or per list name: "
        "flag (kept, marked, lower merged score) or quarantine (reason warninglist), as a JSON "
        "object. Empty: flag every hit.",
        example='{"false_positive": "flag", "public-dns-v4": "quarantine"}',
        json_object=True,
    )

    def scoring_overrides(self) -> dict[str, Any]:
        """The ``scoring`` option as a mapping (empty when unset)."""
        decoded: dict[str, Any] = json.loads(self.scoring) if self.scoring else {}
        return decoded

    def deadline_minutes_for(self, name: str) -> float | None:
        """The freshness deadline of DAG ``name``, in minutes; None: not configured.

        ``<name>_deadline_minutes`` wins over ``deadline_minutes``; 0 disables the deadline.
        """
        own = Option(f"{name}_deadline_minutes", "float", None, _spec("deadline_minutes"))
        minutes: float | None = own.parse(_read(own.name))
        return self.deadline_minutes if minutes is None else minutes


def _type_of(annotation: Any) -> OptionType:
    """The option type of a field annotation (``float | None`` is a float)."""
    if isinstance(annotation, types.UnionType):
        annotation = next(arg for arg in typing.get_args(annotation) if arg is not type(None))
    return _TYPES[annotation]


@cache
def options() -> tuple[Option, ...]:
    """Every declared option, in declaration order."""
    hints = typing.get_type_hints(ThreatStreamSettings)
    return tuple(
        Option(item.name, _type_of(hints[item.name]), typing.cast(Any, item.default), item.metadata["option"])
        for item in dataclasses.fields(ThreatStreamSettings)
    )


def _spec(name: str) -> OptionSpec:
    return next(option.spec for option in options() if option.name == name)


def _read(name: str) -> str | None:
    from airflow.configuration import conf

    value = conf.get(SECTION, name, fallback=None)
    return None if value is None else str(value)


def settings() -> ThreatStreamSettings:
    """The current ``[threatstream]`` settings, read and checked at once.

    Raises :class:`SettingsError` naming the first option with a bad value.
    """
    return ThreatStreamSettings(**{option.name: option.parse(_read(option.name)) for option in options()})


def config_section() -> dict[str, Any]:
    """The provider's ``config`` section, in the schema Airflow validates (``provider_info``)."""
    return {
        SECTION: {
            "description": "ThreatStream: feed ingestion, batch storage, alerts and the merged view.\n",
            "options": {option.name: option.provider_entry() for option in options()},
        }
    }


def reference_table() -> str:
    """The options as the Markdown table of ``docs/operations.md`` (``python -m threatstream.settings``)."""
    rows = ["| option | type | default | meaning |", "|---|---|---|---|"]
    for option in options():
        default = "" if option.default is None else str(option.default)
        shown = f"`{default}`" if default else "(empty)"
        rows.append(f"| `{option.name}` | {option.type} | {shown} | {option.spec.description} |")
    return "\n".join(rows)


if __name__ == "__main__":
    print(reference_table())
