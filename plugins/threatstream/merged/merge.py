"""The merged view: one document per canonical indicator value across every source.

A merged document's id and partition key depend on the indicator type and canonical value
only (:func:`~threatstream.canonical.identity.merged_keys`), so a lookup is a
point read. It holds one provenance entry per reporting source and aggregates derived from
them: the union of tags, the strictest TLP, first/last seen across sources, the number of
sources, the latest expiry, the MISP warninglists the value is on (``warninglists``, the
union of the sources' flags, absent when none) and the score
(:func:`threatstream.merged.scoring.score`, lowered for a warninglisted value).

:func:`merge` folds a canonical source document (a line of a batch's ``valid.jsonl``) into
a merged document. It is a join: idempotent (merging the same document again changes
nothing), commutative and associative (the order of sources and batches does not matter).
Everything that depends on the wall clock (dropping expired sources, the document's ``ttl``
and ``updated_at``) happens in :func:`prepare_for_write`, right before the write.

Pure functions only: no I/O, no Airflow.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from threatstream.canonical.identity import merged_keys
from threatstream.canonical.vocabulary import TLP, IndicatorType
from threatstream.merged.scoring import DEFAULT_POLICY, ScoringPolicy, SourceEvidence, score
from threatstream.parsing.timestamps import SORTABLE, format_utc, parse_timestamp

__all__ = [
    "DOC_TYPE",
    "content_of",
    "merge",
    "merge_entry",
    "new_merged",
    "prepare_for_write",
    "provenance",
    "recompute",
    "score",
    "score_at",
    "warninglists_of",
]

#: ``doc_type`` of a merged document (the merged view lives in a container of its own).
DOC_TYPE = "merged"

#: TLP 2.0 labels, least to most restrictive.
TLP_ORDER: tuple[TLP, ...] = (TLP.CLEAR, TLP.GREEN, TLP.AMBER, TLP.AMBER_STRICT, TLP.RED)

#: Fields of a merged document that change on every write and are not content.
VOLATILE_FIELDS = frozenset({"ttl", "updated_at"})

#: ``raw_metadata`` keys that hold a link to the source's own page about the indicator.
_REFERENCE_KEYS = ("reference", "urlhaus_reference", "link", "url_reference")
#: Source-specific reference URLs built from ``raw_metadata`` ids.
_REFERENCE_TEMPLATES: Mapping[str, tuple[str, str]] = {
    "otx": ("pulse_id", "https://otx.alienvault.com/pulse/{}"),
}


def _require_time(value: str | None, what: str) -> datetime:
    parsed = parse_timestamp(value)
    if parsed is None:
        raise ValueError(f"{what} is missing")
    return parsed


def _reference(source: str, metadata: Mapping[str, Any]) -> str | None:
    for key in _REFERENCE_KEYS:
        value = metadata.get(key)
        if isinstance(value, str) and value:
            return value
    template = _REFERENCE_TEMPLATES.get(source)
    if template and metadata.get(template[0]):
        return template[1].format(metadata[template[0]])
    references = metadata.get("references")
    if isinstance(references, list) and references and isinstance(references[0], str):
        return references[0]
    return None


def provenance(
    document: Mapping[str, Any], *, written_at: datetime | None = None, batch_uri: str | None = None
) -> dict[str, Any]:
    """The provenance entry of one canonical source document.

    :param document: a stored source document (a line of ``valid.jsonl``).
    :param written_at: when the source document was written to the store (its ``ttl``
        counts from then); defaults to its ``ingested_at``.
    :param batch_uri: the batch file the document came from (pointer to the raw data).
    """
    ingested_at = _require_time(document.get("ingested_at"), "ingested_at")
    first_seen = parse_timestamp(document.get("first_seen"))
    last_seen = parse_timestamp(document.get("last_seen"))
    valid_until = parse_timestamp(document.get("valid_until"))
    reported = [t for t in (first_seen, last_seen, ingested_at) if t is not None]
    expires_at = (written_at or ingested_at) + timedelta(seconds=int(document["ttl"]))
    if valid_until is not None:
        expires_at = min(expires_at, valid_until)
    tlp = TLP.parse(document.get("tlp"))
    return {
        "source": str(document["source"]),
        "document_id": str(document["id"]),
        "first_reported": format_utc(min(reported), SORTABLE),
        "last_reported": format_utc(max(t for t in (last_seen, ingested_at) if t is not None), SORTABLE),
        "confidence": document.get("confidence"),
        "tags": sorted(set(document.get("tags") or [])),
        "tlp": tlp.value if tlp else None,
        "valid_until": format_utc(valid_until, SORTABLE) if valid_until else None,
        "expires_at": format_utc(expires_at, SORTABLE),
        "ingested_at": format_utc(ingested_at, SORTABLE),
        "reference": _reference(str(document["source"]), document.get("raw_metadata") or {}),
        "batch_uri": batch_uri,
        **_listed(document.get("warninglists")),
    }


def _listed(names: Any) -> dict[str, list[str]]:
    """``{"warninglists": [...]}`` when ``names`` holds any list name, else nothing."""
    listed = sorted({str(name) for name in names or ()})
    return {"warninglists": listed} if listed else {}


def warninglists_of(document: Mapping[str, Any]) -> list[str]:
    """The warninglists a merged document's sources flagged its value on (sorted, deduplicated)."""
    return sorted({name for entry in document.get("sources", []) for name in entry.get("warninglists") or ()})


def _canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def _report_order(entry: Mapping[str, Any]) -> tuple[str, str]:
    """A total order on reports: logical time, then content (without the joined times)."""
    attributes = {k: v for k, v in entry.items() if k not in ("first_reported", "last_reported")}
    return entry["ingested_at"], _canonical_json(attributes)


def merge_entry(current: Mapping[str, Any], incoming: Mapping[str, Any]) -> dict[str, Any]:
    """Join two reports of one source: the earliest first and latest last report, and the
    attributes of the newer report (by ``ingested_at``; ties broken by content so the
    result does not depend on the order)."""
    newer = max(current, incoming, key=_report_order)
    return {
        **newer,
        "first_reported": min(current["first_reported"], incoming["first_reported"]),
        "last_reported": max(current["last_reported"], incoming["last_reported"]),
    }


def new_merged(indicator_type: str, indicator_value: str) -> dict[str, Any]:
    """An empty merged document for one canonical value (no sources yet)."""
    document_id, partition_key = merged_keys(indicator_type, indicator_value)
    return {
        "id": document_id,
        "partition_key": partition_key,
        "doc_type": DOC_TYPE,
        "indicator_type": IndicatorType(indicator_type).value,
        "indicator_value": indicator_value,
        "sources": [],
    }


def _strictest_tlp(labels: Iterable[str | None]) -> str | None:
    ranks = [TLP_ORDER.index(TLP(label)) for label in labels if label is not None]
    return TLP_ORDER[max(ranks)].value if ranks else None


def _evidence(entries: Iterable[Mapping[str, Any]]) -> list[SourceEvidence]:
    return [
        SourceEvidence(
            source=entry["source"],
            confidence=entry["confidence"],
            last_reported=_require_time(entry["last_reported"], "last_reported"),
        )
        for entry in entries
    ]


def score_at(document: Mapping[str, Any], at: datetime, policy: ScoringPolicy = DEFAULT_POLICY) -> float:
    """The score of a merged document at time ``at`` (decayed up to then)."""
    return score(
        _evidence(document.get("sources", [])),
        str(document["indicator_type"]),
        at,
        policy,
        warninglisted=bool(warninglists_of(document)),
    )


def public_record(
    document: Mapping[str, Any], at: datetime, policy: ScoringPolicy = DEFAULT_POLICY
) -> dict[str, Any]:
    """A merged document as lookups show it: without the store's system properties (``_*``),
    with ``current_score``, its score decayed up to ``at``."""
    record = {key: value for key, value in document.items() if not key.startswith("_")}
    record["current_score"] = score_at(document, at, policy)
    return record


def recompute(document: Mapping[str, Any], policy: ScoringPolicy = DEFAULT_POLICY) -> dict[str, Any]:
    """Recompute every aggregate from the provenance entries.

    The stored ``score`` is the score as of the latest report (``score_as_of`` = last_seen),
    so it depends on the evidence only; :func:`score_at` gives it for any other time.
    """
    entries = sorted(document.get("sources", []), key=lambda entry: entry["source"])
    result = {
        **{key: value for key, value in document.items() if key not in VOLATILE_FIELDS},
        "sources": entries,
    }
    result.pop("warninglists", None)
    if not entries:
        for key in ("source_names", "tags", "tlp", "first_seen", "last_seen", "expires_at", "score"):
            result.pop(key, None)
        result.update(source_count=0, source_names=[], tags=[])
        return result
    last_seen = max(entry["last_reported"] for entry in entries)
    listed = warninglists_of(result)
    result.update(
        source_names=[entry["source"] for entry in entries],
        source_count=len(entries),
        tags=sorted({tag for entry in entries for tag in entry["tags"]}),
        tlp=_strictest_tlp(entry["tlp"] for entry in entries),
        first_seen=min(entry["first_reported"] for entry in entries),
        last_seen=last_seen,
        expires_at=max(entry["expires_at"] for entry in entries),
        score=score(
            _evidence(entries),
            str(document["indicator_type"]),
            _require_time(last_seen, "last_seen"),
            policy,
            warninglisted=bool(listed),
        ),
        score_as_of=last_seen,
        **_listed(listed),
    )
    return result


def merge(
    merged: Mapping[str, Any] | None,
    document: Mapping[str, Any],
    *,
    written_at: datetime | None = None,
    batch_uri: str | None = None,
    policy: ScoringPolicy = DEFAULT_POLICY,
) -> dict[str, Any]:
    """Fold one canonical source document into the merged document of its value.

    :param merged: the current merged document (None when there is none yet).
    :param document: a canonical source document (a line of ``valid.jsonl``).
    :param written_at: when the source document was written (see :func:`provenance`).
    :param batch_uri: the batch file the document came from.
    :returns: the new merged document (volatile fields ``ttl``/``updated_at`` removed;
        :func:`prepare_for_write` sets them).
    """
    kind, value = str(document["indicator_type"]), str(document["indicator_value"])
    base = content_of(merged) if merged is not None else new_merged(kind, value)
    if (base["indicator_type"], base["indicator_value"]) != (IndicatorType(kind).value, value):
        raise ValueError(
            f"document {document.get('id')} ({kind}) does not belong to merged document {base['id']}"
        )
    entry = provenance(document, written_at=written_at, batch_uri=batch_uri)
    by_source = {item["source"]: item for item in base.get("sources", [])}
    existing = by_source.get(entry["source"])
    by_source[entry["source"]] = merge_entry(existing, entry) if existing else entry
    base["sources"] = list(by_source.values())
    return recompute(base, policy)


def content_of(document: Mapping[str, Any]) -> dict[str, Any]:
    """A merged document without Cosmos system fields (``_etag``, ``_ts``, ...) and volatile fields."""
    return {
        key: value
        for key, value in document.items()
        if not key.startswith("_") and key not in VOLATILE_FIELDS
    }


def prepare_for_write(
    document: Mapping[str, Any], now: datetime, policy: ScoringPolicy = DEFAULT_POLICY
) -> dict[str, Any] | None:
    """Drop sources whose report has expired, then stamp ``ttl`` and ``updated_at`` for a write.

    Returns None when no source is left: the indicator has expired everywhere. The ``ttl``
    (seconds, counted by Cosmos DB from the write) ends when the latest-living source expires.
    """
    stamp = format_utc(now, SORTABLE)
    live = [entry for entry in document.get("sources", []) if entry["expires_at"] > stamp]
    if not live:
        return None
    result = recompute({**content_of(document), "sources": live}, policy)
    expires_at = _require_time(result["expires_at"], "expires_at")
    result["ttl"] = max(1, math.ceil((expires_at - now).total_seconds()))
    result["updated_at"] = stamp
    return result
