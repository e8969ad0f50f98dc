"""``upsert``: stream validated indicators into the Cosmos DB store."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from airflow.sdk import BaseOperator, Context

from threatstream.assets import source_asset
from threatstream.exceptions import StoreWriteError
from threatstream.hooks.cosmos import IndicatorStoreHook
from threatstream.models import UpsertResult, ValidateResult
from threatstream.storage import open_path, read_json_lines


class UpsertIndicatorsOperator(BaseOperator):
    """Upsert the ``valid.jsonl`` of a batch into Cosmos DB.

    Ids are deterministic, so rerunning (a retry, a cleared task, a second run of the
    same window) rewrites the same documents and never duplicates them. Any document that
    could not be written fails the task, which is then retried as a whole.

    :param source: registered source name.
    :param validate_task_id: task whose XCom holds the :class:`ValidateResult`.
    :param cosmos_conn_id: store connection (conn type ``azure_cosmos``).
    :param max_concurrency: transactional batches in flight at once.
    """

    template_fields: Sequence[str] = ("cosmos_conn_id",)
    ui_color = "#e9f7ef"

    def __init__(
        self,
        *,
        source: str,
        validate_task_id: str = "validate",
        cosmos_conn_id: str = IndicatorStoreHook.default_conn_name,
        max_concurrency: int = 4,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.source = source
        self.validate_task_id = validate_task_id
        self.cosmos_conn_id = cosmos_conn_id
        self.max_concurrency = max_concurrency

    def execute(self, context: Context) -> dict[str, Any]:
        validated = ValidateResult.model_validate(context["ti"].xcom_pull(task_ids=self.validate_task_id))
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
        if stats.failed:
            raise StoreWriteError(
                f"{stats.failed} of {stats.attempted} documents were not written "
                f"(first failures: {stats.failures[:5]}); the upsert is idempotent and will be retried."
            )
        context["outlet_events"][source_asset(self.source)].extra = {
            "source": result.source,
            "run_id": result.run_id,
            "valid_uri": validated.valid_uri,
            "storage_conn_id": validated.storage_conn_id,
            "written": result.written,
            "failed": result.failed,
            "ingested_at": validated.model_dump(mode="json")["ingested_at"],
            "data_interval_start": _iso(context.get("data_interval_start")),
            "data_interval_end": _iso(context.get("data_interval_end")),
        }
        return result.model_dump(mode="json")


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None
