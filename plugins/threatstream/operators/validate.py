"""``validate``: canonicalise a fetched batch, quarantining every record that fails."""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any

from airflow.sdk import BaseOperator, Context, ObjectStoragePath

from threatstream import quality
from threatstream.canonical import InvalidIndicator
from threatstream.exceptions import BatchIntegrityError, RejectRatioExceeded
from threatstream.hooks.feed import FetchedPage
from threatstream.models import FetchResult, Indicator, StoredPage, ValidateResult
from threatstream.sources import SourceSpec, get_source
from threatstream.storage import JsonLinesWriter, open_path


def _reject_reason(error: Exception) -> tuple[str, str]:
    if isinstance(error, InvalidIndicator):
        return error.reason, str(error)
    return "malformed_record", f"{type(error).__name__}: {error}"


def _id_key(indicator_id: str) -> int:
    """A compact key for de-duplication (8 bytes of SHA-256; collisions are negligible)."""
    return int.from_bytes(hashlib.sha256(indicator_id.encode()).digest()[:8], "big")


class ValidateIndicatorsOperator(BaseOperator):
    """Stream the raw pages of a batch, write canonical indicators and a quarantine file.

    Each record fails alone: a record that cannot be parsed or canonicalised goes to
    ``quarantine.jsonl`` with its raw input and reason. Inactive or expired indicators are
    counted, not stored. When the share of rejected records exceeds ``max_reject_ratio``
    the task fails without retry: the feed has most likely changed shape.

    :param source: registered source name.
    :param fetch_task_id: task whose XCom holds the :class:`FetchResult`.
    :param max_reject_ratio: 0-1, templated; defaults to the source's setting.
    :param default_ttl: lifetime of stored indicators; defaults to the source's setting.
    """

    template_fields: Sequence[str] = ("max_reject_ratio",)
    ui_color = "#fdf5e6"

    def __init__(
        self,
        *,
        source: str,
        fetch_task_id: str = "fetch",
        max_reject_ratio: float | str | None = None,
        default_ttl: timedelta | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.source = source
        self.fetch_task_id = fetch_task_id
        self.max_reject_ratio = max_reject_ratio
        self.default_ttl = default_ttl

    def execute(self, context: Context) -> dict[str, Any]:
        spec = get_source(self.source)
        fetched = FetchResult.model_validate(context["ti"].xcom_pull(task_ids=self.fetch_task_id))
        prefix = open_path(fetched.prefix, fetched.storage_conn_id)
        max_ratio = float(
            self.max_reject_ratio if self.max_reject_ratio is not None else spec.max_reject_ratio
        )
        result = self._validate(spec, fetched, prefix / "valid.jsonl", prefix / "quarantine.jsonl")
        self.log.info(
            "%d records: %d valid, %d rejected, %d expired, %d duplicates; reasons %s",
            result.records,
            result.valid,
            result.rejected,
            result.expired,
            result.duplicates,
            result.reasons,
        )
        if result.reject_ratio > max_ratio:
            raise RejectRatioExceeded(
                f"{spec.title}: {result.rejected} of {result.records} records rejected "
                f"({result.reject_ratio:.1%} > {max_ratio:.1%}); the feed may have changed shape. "
                f"Rejected records and reasons: {result.quarantine_uri}"
            )
        quality.report_validated(result, max_ratio)
        return result.model_dump(mode="json")

    def _validate(
        self,
        spec: SourceSpec,
        fetched: FetchResult,
        valid_path: ObjectStoragePath,
        quarantine_path: ObjectStoragePath,
    ) -> ValidateResult:
        ttl = self.default_ttl or spec.default_ttl
        # The batch's logical time: identical documents whenever the same window is rerun.
        ingested_at = fetched.data_interval_end or fetched.fetched_at
        reasons: Counter[str] = Counter()
        seen: set[int] = set()
        records = expired = duplicates = 0
        with JsonLinesWriter(valid_path) as valid, JsonLinesWriter(quarantine_path) as quarantine:
            for stored in fetched.pages:
                page = FetchedPage(_read_page(stored, fetched.storage_conn_id), stored.kind, stored.context)
                for record in spec.split_records(page):
                    records += 1
                    try:
                        observation = spec.parse_record(record, page.context)
                        if observation.is_expired(fetched.fetched_at):
                            expired += 1
                            continue
                        indicator: Indicator = observation.to_indicator(
                            spec.name, ingested_at=ingested_at, default_ttl=ttl, written_at=fetched.fetched_at
                        )
                    except (InvalidIndicator, ValueError, KeyError, TypeError, AttributeError) as error:
                        reason, message = _reject_reason(error)
                        reasons[reason] += 1
                        quarantine.write(_quarantine_entry(spec.name, stored.uri, record, reason, message))
                        continue
                    key = _id_key(indicator.id)
                    if key in seen:
                        duplicates += 1
                        continue
                    seen.add(key)
                    valid.write(indicator.to_document())
        rejected = quarantine.count
        return ValidateResult(
            source=spec.name,
            run_id=fetched.run_id,
            valid_uri=str(valid_path),
            quarantine_uri=str(quarantine_path),
            storage_conn_id=fetched.storage_conn_id,
            ingested_at=ingested_at,
            records=records,
            valid=valid.count,
            rejected=rejected,
            expired=expired,
            duplicates=duplicates,
            reject_ratio=round(rejected / records, 6) if records else 0.0,
            reasons=dict(reasons),
        )


def _read_page(stored: StoredPage, conn_id: str | None) -> bytes:
    """A raw page exactly as fetched; a page changed since fetch fails the task."""
    body = open_path(stored.uri, conn_id).read_bytes()
    if hashlib.sha256(body).hexdigest() != stored.sha256:
        raise BatchIntegrityError(
            f"{stored.uri} changed since it was fetched (SHA-256 mismatch); rerun fetch."
        )
    return body


def _quarantine_entry(
    source: str, page_uri: str, record: Mapping[str, Any], reason: str, message: str
) -> dict[str, Any]:
    return {"source": source, "reason": reason, "message": message, "page": page_uri, "record": record}
