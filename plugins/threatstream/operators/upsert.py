"""``upsert``: stream validated indicators into the Cosmos DB store."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from airflow.sdk import BaseOperator, Context

from threatstream.assets import source_asset
from threatstream.compat import AirflowSkipException
from threatstream.exceptions import StoreWriteError
from threatstream.models import FetchResult, UpsertResult, ValidateResult
from threatstream.storage import open_path, read_json_lines
from threatstream.summary import RunSummary, log_summary

#: The store connection (``IndicatorStoreHook.default_conn_name``, without importing the Azure SDK).
COSMOS_CONN_ID = "threatstream_cosmos"


class UpsertIndicatorsOperator(BaseOperator):
    """Upsert the ``valid.jsonl`` of a batch into Cosmos DB.

    Ids are deterministic, so rerunning (a retry, a cleared task, a second run of the
    same window) rewrites the same documents and never duplicates them. Any document that
    could not be written fails the task, which is then retried as a whole.

    :param source: registered source name.
    :param validate_task_id: task whose XCom holds the :class:`ValidateResult`.
    :param cosmos_conn_id: store connection (conn type ``azure_cosmos``).
    :param max_concurrency: transactional batches in flight at once.
    :param skip_write: templated (the DAG passes its ``dry_run`` param); when true nothing
        is written and the task is skipped after logging the run summary.
    :param fetch_task_id: task whose XCom holds the :class:`FetchResult` (for the run summary).

    The task declares the source's Asset (:func:`threatstream.assets.source_asset`) as an
    outlet and sets the event's ``extra`` to the batch's facts and counts.
    """

    template_fields: Sequence[str] = ("cosmos_conn_id", "skip_write")
    ui_color = "#e9f7ef"

    def __init__(
        self,
        *,
        source: str,
        validate_task_id: str = "validate",
        cosmos_conn_id: str = COSMOS_CONN_ID,
        max_concurrency: int = 4,
        skip_write: bool | str = False,
        fetch_task_id: str = "fetch",
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("outlets", [source_asset(source)])
        super().__init__(**kwargs)
        self.skip_write = skip_write
        self.fetch_task_id = fetch_task_id
        self.source = source
        self.validate_task_id = validate_task_id
        self.cosmos_conn_id = cosmos_conn_id
        self.max_concurrency = max_concurrency

    def execute(self, context: Context) -> dict[str, Any]:
        from threatstream.hooks.cosmos import IndicatorStoreHook

        ti = context["ti"]
        validated = ValidateResult.model_validate(ti.xcom_pull(task_ids=self.validate_task_id))
        fetched = FetchResult.model_validate(ti.xcom_pull(task_ids=self.fetch_task_id))
        if _truthy(self.skip_write):
            log_summary(RunSummary.of(fetched, validated, None, dry_run=True), self.log)
            raise AirflowSkipException("dry_run: fetched and validated, nothing written to Cosmos DB.")
        hook = IndicatorStoreHook(self.cosmos_conn_id, max_concurrency=self.max_concurrency)
        started = time.monotonic()
        stats = hook.upsert_documents(
            read_json_lines(open_path(validated.valid_uri, validated.storage_conn_id))
        )
        result = UpsertResult(
            source=validated.source,
            run_id=validated.run_id,
            attempted=stats.attempted,
            written=stats.written,
            failed=stats.failed,
            batches=stats.batches,
            request_charge=round(stats.request_charge, 2),
            duration_seconds=round(time.monotonic() - started, 3),
        )
        self.log.info(
            "Upserted %d of %d documents into %s/%s in %d batches (%.1f RU, %.2fs)",
            result.written,
            result.attempted,
            hook.database_name,
            hook.container_name,
            result.batches,
            result.request_charge,
            result.duration_seconds,
        )
        summary = RunSummary.of(fetched, validated, result)
        log_summary(summary, self.log)
        if stats.failed:
            raise StoreWriteError(
                f"{stats.failed} of {stats.attempted} documents were not written "
                f"(first failures: {stats.failures[:5]}); the upsert is idempotent and will be retried."
            )
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
        }
        return result.model_dump(mode="json")


def _truthy(value: Any) -> bool:
    """A templated boolean: rendered natively (True/False) or as text ("True", "false")."""
    return value is True or str(value).strip().lower() in ("true", "1", "yes")


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None
