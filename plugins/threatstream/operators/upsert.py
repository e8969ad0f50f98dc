"""``upsert``: stream validated indicators into the Cosmos DB store."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator, Context, ObjectStoragePath

from threatstream.batches.encoding import encode_entry
from threatstream.batches.storage import JsonLinesWriter, open_path, read_lines
from threatstream.compat import AirflowSkipException
from threatstream.exceptions import StoreRefusedError, StoreWriteError
from threatstream.monitoring.summary import RunSummary, log_summary
from threatstream.naming import COSMOS_CONN_ID, source_asset
from threatstream.operators.rendering import rendered_flag
from threatstream.records.results import FetchResult, UpsertResult, ValidateResult

if TYPE_CHECKING:
    from threatstream.store.indicators import WriteStats

#: Quarantine reasons kept in the asset event (the most frequent first); all are in the XCom.
MAX_EVENT_REASONS = 10


class UpsertIndicatorsOperator(BaseOperator):
    """Upsert the ``valid.jsonl`` of a batch into Cosmos DB.

    Ids are deterministic, so rerunning (a retry, a cleared task, a second run of the
    same window) rewrites the same documents and never duplicates them. A document not
    written for a transient reason (throttling, timeouts, 5xx, dropped connections, after
    the in-task retries) fails the task, which is then retried as a whole.

    A document the store refuses for its own content (400/413) cannot be fixed by a retry:
    it goes to ``store_quarantine.jsonl`` next to ``valid.jsonl`` (id, partition key,
    status, the store's reason), the rest is written, and the task stays green with the
    refusals counted in its result, unless more than ``max_refused_ratio`` of the documents
    were refused, which fails the task without retry (the batch itself is wrong).

    :param source: registered source name.
    :param validate_task_id: task whose XCom holds the :class:`ValidateResult`.
    :param azure_cosmos_conn_id: store connection, conn type ``azure_cosmos`` (templated).
    :param max_concurrency: most transactional batches in flight at once (adaptive below it).
    :param max_refused_ratio: 0-1, share of refused documents that still counts as success.
    :param report_only: when true nothing is written and the task is skipped after logging
        the run summary (templated; the DAG passes its ``dry_run`` param, a name operators
        cannot take: ``BaseOperator.dry_run`` is Airflow's own method).
    :param fetch_task_id: task whose XCom holds the :class:`FetchResult` (for the run summary).

    The task declares the source's Asset (:func:`threatstream.naming.source_asset`) as an
    outlet and sets the event's ``extra`` to the batch's facts and counts.
    """

    template_fields: Sequence[str] = ("azure_cosmos_conn_id", "report_only")
    ui_color = "#e9f7ef"

    def __init__(
        self,
        *,
        source: str,
        validate_task_id: str = "validate",
        azure_cosmos_conn_id: str = COSMOS_CONN_ID,
        max_concurrency: int = 8,
        max_refused_ratio: float = 0.2,
        report_only: bool | str = False,
        fetch_task_id: str = "fetch",
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("outlets", [source_asset(source)])
        super().__init__(**kwargs)
        self.report_only = report_only
        self.fetch_task_id = fetch_task_id
        self.source = source
        self.validate_task_id = validate_task_id
        self.azure_cosmos_conn_id = azure_cosmos_conn_id
        self.max_concurrency = max_concurrency
        self.max_refused_ratio = max_refused_ratio

    def execute(self, context: Context) -> dict[str, Any]:
        from threatstream.store.indicators import IndicatorStoreHook

        ti = context["ti"]
        validated = ValidateResult.model_validate(ti.xcom_pull(task_ids=self.validate_task_id))
        fetched = FetchResult.model_validate(ti.xcom_pull(task_ids=self.fetch_task_id))
        if rendered_flag(self.report_only, "report_only"):
            log_summary(RunSummary.of(fetched, validated, None, dry_run=True), self.log)
            raise AirflowSkipException("dry_run: fetched and validated, nothing written to Cosmos DB.")
        hook = IndicatorStoreHook(self.azure_cosmos_conn_id, max_concurrency=self.max_concurrency)
        started = time.monotonic()
        valid_path = open_path(validated.valid_uri, validated.storage_conn_id)
        stats = hook.upsert_json_lines(read_lines(valid_path))
        store_quarantine = _write_store_quarantine(valid_path.parent / "store_quarantine.jsonl", stats)
        result = UpsertResult(
            source=validated.source,
            run_id=validated.run_id,
            attempted=stats.attempted,
            written=stats.written,
            failed=stats.failed,
            refused=len(stats.refused),
            store_quarantine_uri=store_quarantine,
            throttled=stats.throttled,
            batches=stats.batches,
            request_charge=round(stats.request_charge, 2),
            duration_seconds=round(time.monotonic() - started, 3),
        )
        self.log.info(
            "Upserted %d of %d documents into %s/%s in %d batches (%.1f RU, %.2fs; "
            "%d throttled requests, up to %d batches in flight)",
            result.written,
            result.attempted,
            hook.database_name,
            hook.container_name,
            result.batches,
            result.request_charge,
            result.duration_seconds,
            result.throttled,
            stats.peak_concurrency,
        )
        summary = RunSummary.of(fetched, validated, result)
        log_summary(summary, self.log)
        if stats.failed > len(stats.refused):
            raise StoreWriteError(
                f"{stats.failed - len(stats.refused)} of {stats.attempted} documents were not written "
                f"(first failures: {stats.failures[:5]}); the upsert is idempotent and will be retried."
            )
        if stats.refused:
            refused_ratio = len(stats.refused) / stats.attempted
            refusal = (
                f"the store refused {len(stats.refused)} of {stats.attempted} documents for their content "
                f"(first: {stats.refused[:3]}); they are listed in {store_quarantine} and not retried"
            )
            if refused_ratio > self.max_refused_ratio:
                raise StoreRefusedError(f"{refusal}; {refused_ratio:.1%} > {self.max_refused_ratio:.1%}.")
            self.log.warning("%s.", refusal[0].upper() + refusal[1:])
        context["outlet_events"][source_asset(self.source)].extra = {
            "source": validated.source,
            "run_id": validated.run_id,
            "valid_uri": validated.valid_uri,
            "storage_conn_id": validated.storage_conn_id,
            "written": result.written,
            "failed": result.failed,
            "ingested_at": validated.ingested_at.isoformat(),
            "data_interval_start": _iso(fetched.data_interval_start),
            "data_interval_end": _iso(fetched.data_interval_end),
            "summary": summary.counts(),
            "reasons": dict(Counter(validated.reasons).most_common(MAX_EVENT_REASONS)),
        }
        return result.model_dump(mode="json")


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _write_store_quarantine(path: ObjectStoragePath, stats: WriteStats) -> str:
    """Write the documents the store refused (rewritten on every try); returns the file's URI."""
    with JsonLinesWriter(path) as out:
        for refusal in stats.refused:
            out.write_line(encode_entry(refusal))
    return str(path)
