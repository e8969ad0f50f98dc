"""Indicator models: what parsers emit and what the store holds.

* :class:`Observation` - one indicator as a source reported it, before canonicalisation.
* :class:`Indicator` - the canonical document stored in Cosmos DB.
* :class:`DocumentBuilder` - the stored documents of one batch, built without the model.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any, Required, TypedDict

from pydantic import BaseModel, ConfigDict, Field, InstanceOf, model_validator

from threatstream.canonical.dispatch import canonical_indicator
from threatstream.canonical.identity import check_source, indicator_keys
from threatstream.canonical.vocabulary import TLP, IndicatorType
from threatstream.parsing.timestamps import ensure_utc, format_utc
from threatstream.records.fields import UtcDatetime, UtcInput


class Observation(BaseModel):
    """One indicator as reported by a source, before canonicalisation.

    Parsers build these from raw records; :meth:`to_indicator` turns one into a stored
    :class:`Indicator` or raises :class:`~threatstream.canonical.errors.InvalidIndicator`.

    ``tlp`` takes a :class:`TLP` or the label exactly as the feed writes it (``TLP:AMBER``,
    ``white``...), mapped by :meth:`TLP.from_label`. An unknown label does not reject the
    indicator: ``tlp`` is None and the label is kept in ``raw_metadata["tlp_label"]``.
    """

    # Unknown fields are ignored rather than refused: the check costs a quarter of a
    # microsecond per record; mypy checks the fields parsers pass (:class:`ObservationFields`).
    model_config = ConfigDict(frozen=True, extra="ignore")

    indicator_type: IndicatorType
    value: str
    confidence: int | None = Field(default=None, ge=0, le=100)
    tags: tuple[str, ...] = ()
    tlp: TLP | None = None
    first_seen: UtcInput | None = None
    last_seen: UtcInput | None = None
    valid_until: UtcInput | None = None
    is_active: bool = True
    #: Kept as the parser built it (a dict of its own for each record), not copied.
    raw_metadata: InstanceOf[dict[str, Any]] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _map_tlp_label(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        label = data.get("tlp")
        if label is None or isinstance(label, TLP):
            return data
        try:
            tlp = TLP.from_label(label)
        except ValueError:
            metadata = data.get("raw_metadata", {})
            if not isinstance(metadata, Mapping):
                return {**data, "tlp": None}  # raw_metadata itself is invalid and will be reported
            return {**data, "tlp": None, "raw_metadata": {**metadata, "tlp_label": label}}
        return {**data, "tlp": tlp}

    @property
    def has_unknown_tlp(self) -> bool:
        """The source gave a TLP label that is not a TLP 1.0 / 2.0 label (kept in raw metadata)."""
        return self.tlp is None and "tlp_label" in self.raw_metadata

    def is_expired(self, at: datetime) -> bool:
        """Inactive at the source, or past its ``valid_until`` at time ``at``."""
        return not self.is_active or (self.valid_until is not None and self.valid_until <= at)

    def to_indicator(
        self,
        source: str,
        *,
        ingested_at: datetime,
        default_ttl: timedelta,
        written_at: datetime | None = None,
    ) -> Indicator:
        """Canonicalise into the stored document, as a validated :class:`Indicator`.

        The canonical type may differ from the reported one (an absolute web ``URI`` is a
        ``URL``, ``::ffff:8.8.8.8`` is ``IPv4``); the reported type is then kept in
        ``raw_metadata["original_type"]``, and a defanged value in ``raw_metadata["original_value"]``.

        :param ingested_at: the batch's logical time (stable across reruns of the batch).
        :param default_ttl: lifetime of the document unless ``valid_until`` is sooner.
        :param written_at: when the document is written (defaults to ``ingested_at``);
            Cosmos DB counts ``ttl`` from the write, so the TTL ends at ``valid_until``.
        """
        return Indicator.model_validate(
            self.to_document(source, ingested_at=ingested_at, default_ttl=default_ttl, written_at=written_at)
        )

    def to_document(
        self,
        source: str,
        *,
        ingested_at: datetime,
        default_ttl: timedelta,
        written_at: datetime | None = None,
    ) -> dict[str, Any]:
        """The JSON-ready document of :meth:`to_indicator`, without building the model.

        For many observations of one batch, :class:`DocumentBuilder` does the same with the
        per-batch work done once.
        """
        builder = DocumentBuilder(
            source, ingested_at=ingested_at, default_ttl=default_ttl, written_at=written_at
        )
        return builder.document(self)


class ObservationFields(TypedDict, total=False):
    """The fields of an :class:`Observation` as a parser passes them to :func:`new_observation`."""

    indicator_type: Required[IndicatorType]
    value: Required[str]
    confidence: int | None
    tags: tuple[str, ...]
    tlp: TLP | str | None
    first_seen: datetime | None
    last_seen: datetime | None
    valid_until: datetime | None
    is_active: bool
    raw_metadata: dict[str, Any]


#: ``Observation(**fields)`` as one call into pydantic-core: the same validation, without the
#: Python-level constructor around it (parsers build one observation per record).
new_observation: Callable[[ObservationFields], Observation] = (
    Observation.__pydantic_validator__.validate_python
)


class DocumentBuilder:
    """Builds the stored documents of one batch: one source, one ingestion time, one TTL.

    What is the same for every document (the source check, the formatted ``ingested_at``,
    the default TTL in seconds) is worked out once; :meth:`document` then canonicalises one
    observation and lays out its document in :class:`Indicator`'s field order, without
    validating again: every field is made to satisfy :class:`Indicator` (the tests validate
    the result against it).

    :param ingested_at: the batch's logical time (stable across reruns of the batch).
    :param default_ttl: lifetime of a document unless its ``valid_until`` is sooner.
    :param written_at: when the documents are written (defaults to ``ingested_at``);
        Cosmos DB counts ``ttl`` from the write, so the TTL ends at ``valid_until``.
    """

    def __init__(
        self,
        source: str,
        *,
        ingested_at: datetime,
        default_ttl: timedelta,
        written_at: datetime | None = None,
    ) -> None:
        check_source(source)
        self.source = source
        self._ingested_at = format_utc(ingested_at)
        self._written_at = ensure_utc(written_at or ingested_at)
        self._default_ttl = max(1, int(default_ttl.total_seconds()))
        self._tag_lists: dict[tuple[str, ...], list[str]] = {}

    def document(self, observation: Observation) -> dict[str, Any]:
        """The JSON-ready document of ``observation``; raises :class:`InvalidIndicator`."""
        document = self.fields(observation)
        for name in _OBSERVED_TIMES:
            if document[name] is not None:
                document[name] = format_utc(document[name])
        return document

    def fields(self, observation: Observation) -> dict[str, Any]:
        """:meth:`document` with its observed times still ``datetime`` (UTC), as the batch
        encoder (:func:`~threatstream.batches.encoding.encode_document`) writes them in the same form."""
        reported = observation.indicator_type
        indicator_type, canonical_value, refanged = canonical_indicator(reported, observation.value)
        raw_metadata = observation.raw_metadata
        if refanged or indicator_type is not reported:
            raw_metadata = dict(raw_metadata)
            if refanged:
                raw_metadata["original_value"] = observation.value
            if indicator_type is not reported:
                raw_metadata["original_type"] = reported.value
        document_id, document_partition_key = indicator_keys(self.source, indicator_type, canonical_value)
        ttl = self._default_ttl
        valid_until = observation.valid_until
        if valid_until is not None:
            ttl = max(1, min(ttl, int((valid_until - self._written_at).total_seconds())))
        tag_list = self._tag_lists.get(observation.tags)
        if tag_list is None:
            tag_list = self._tag_list(observation.tags)
        return {
            "id": document_id,
            "partition_key": document_partition_key,
            "source": self.source,
            "indicator_type": indicator_type,  # a StrEnum: it is its value
            "indicator_value": canonical_value,
            "confidence": observation.confidence,
            "tags": tag_list[:],  # a list of its own for each document
            "tlp": observation.tlp,
            "first_seen": observation.first_seen,
            "last_seen": observation.last_seen,
            "valid_until": valid_until,
            "ingested_at": self._ingested_at,
            "raw_metadata": raw_metadata,
            "ttl": ttl,
        }

    def _tag_list(self, tags: tuple[str, ...]) -> list[str]:
        """The stored form of ``tags``: stripped, without blanks or repeats, sorted. Kept for
        the next documents (a feed repeats a few tag sets), up to :data:`KEPT_TAG_LISTS` of them."""
        tag_list = sorted({stripped for tag in tags if (stripped := tag.strip())})
        if len(self._tag_lists) < KEPT_TAG_LISTS:
            self._tag_lists[tags] = tag_list
        return tag_list


#: Distinct tag sets whose stored form one :class:`DocumentBuilder` keeps.
KEPT_TAG_LISTS = 4096
#: The times an observation reports (its optional datetimes); a document holds them under the
#: same names, as ``datetime`` from :meth:`DocumentBuilder.fields`, as text from ``document``.
_OBSERVED_TIMES = tuple(
    name for name, field in Observation.model_fields.items() if field.annotation == UtcInput | None
)


class Indicator(BaseModel):
    """A canonical indicator document as stored in Cosmos DB (the documented schema)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(pattern=r"^[A-Za-z0-9_.:-]{1,255}$")
    partition_key: str
    source: str
    indicator_type: IndicatorType
    indicator_value: str
    confidence: int | None = Field(default=None, ge=0, le=100)
    tags: list[str] = Field(default_factory=list)
    tlp: TLP | None = None
    first_seen: UtcDatetime | None = None
    last_seen: UtcDatetime | None = None
    valid_until: UtcDatetime | None = None
    ingested_at: UtcDatetime
    raw_metadata: dict[str, Any] = Field(default_factory=dict)
    ttl: int = Field(ge=1, description="Seconds until Cosmos DB expires the document.")
    warninglists: list[str] | None = Field(
        default=None,
        description="The MISP warninglists the value is on (set by validate; absent when none).",
    )

    def to_document(self) -> dict[str, Any]:
        """The JSON-ready document written to Cosmos DB (``warninglists`` only when set)."""
        return self.model_dump(mode="json", exclude=None if self.warninglists else {"warninglists"})
