"""``merge``: fold freshly upserted source batches into the merged view, incrementally."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

from airflow.sdk import BaseOperator, Context
from pydantic import BaseModel, ConfigDict, ValidationError

from threatstream.batches.storage import open_path, read_json_lines
from threatstream.compat import AirflowFailException
from threatstream.exceptions import BatchFormatError, StoragePathError, StoreWriteError
from threatstream.naming import COSMOS_CONN_ID, merged_asset
from threatstream.sources import scoring_policy

log = logging.getLogger(__name__)


class BatchRef(BaseModel):
    """A batch of canonical source documents to merge (an upsert asset event's ``extra``)."""

    model_config = ConfigDict(extra="ignore")

    valid_uri: str
    storage_conn_id: str | None = None
    source: str | None = None
    run_id: str | None = None
    #: When the batch was written to the store (the documents' ``ttl`` counts from then).
    written_at: datetime | None = None


def triggering_batches(context: Context) -> Iterator[BatchRef]:
    """The batches named by the asset events that triggered this run, oldest first.

    An event without ``valid_uri`` (e.g. created by hand in the UI) names no batch: it is
    logged and skipped.
    """
    accessor: Mapping[Any, Sequence[Any]] = context.get("triggering_asset_events") or {}
    events = [event for asset in accessor for event in accessor[asset]]
    for event in sorted(events, key=lambda event: event.timestamp):
        extra = dict(event.extra or {})
        if extra.get("valid_uri"):
            yield BatchRef.model_validate({**extra, "written_at": event.timestamp})
        else:
            log.warning(
                "Asset event of %s from %s names no batch (no valid_uri); skipped",
                getattr(event.asset, "name", "?"),
                event.source_dag_id or "outside a DAG",
            )


class MergeViewOperator(BaseOperator):
    """Merge the canonical documents of source batches into the merged view.

    The batches are those of the asset events that triggered the run (each event's
    ``extra["valid_uri"]``) plus any listed in ``batches`` (templated; e.g. ``{{ params.batches }}``
    to re-merge a batch by hand). Only these documents are touched: one point read and at
    most one conditional write per document, never a scan of the container. Each batch
    fails alone; any failure fails the task after every batch was tried (merging is
    idempotent, so the retry redoes the work safely). A batch outside the storage base, or a
    file that is not a batch, is refused before it is read and fails the task without retry.

    :param batches: extra batches, each ``{"valid_uri": ..., "storage_conn_id": ...}`` (templated).
    :param azure_cosmos_conn_id: the store connection (templated).
    :param container_name: the merged container (templated; default ``[threatstream] merged_container``).
    :param scoring: overrides of the scoring policy (on top of ``[threatstream] scoring``; see
        :class:`~threatstream.merged.scoring.ScoringPolicy`).
    :param max_concurrency: documents merged at once.
    """

    template_fields: Sequence[str] = ("batches", "azure_cosmos_conn_id", "container_name")
    ui_color = "#eaf2fb"

    def __init__(
        self,
        *,
        batches: Sequence[Mapping[str, Any]] | str = (),
        azure_cosmos_conn_id: str = COSMOS_CONN_ID,
        container_name: str | None = None,
        scoring: Mapping[str, Any] | None = None,
        max_concurrency: int = 8,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.batches = batches
        self.azure_cosmos_conn_id = azure_cosmos_conn_id
        self.container_name = container_name
        self.scoring = dict(scoring or {})
        self.max_concurrency = max_concurrency

    def _requested_batches(self, context: Context) -> list[BatchRef]:
        if isinstance(self.batches, str):
            raise AirflowFailException(f"batches must render to a list, got the string {self.batches!r}")
        try:
            refs = [*triggering_batches(context), *(BatchRef.model_validate(b) for b in self.batches or ())]
        except ValidationError as err:
            raise AirflowFailException(f"A batch is malformed: {err}") from None
        unique = {ref.valid_uri: ref for ref in refs}
        if not unique:
            raise AirflowFailException(
                "No batch to merge: this DAG runs on the source assets that upsert emits, or takes "
                'batches by hand (params: {"batches": [{"valid_uri": "..."}]}).'
            )
        return list(unique.values())

    def execute(self, context: Context) -> dict[str, Any]:
        # The Cosmos SDK is imported by the task, not when the DAG file is parsed.
        from threatstream.store.merged import MergedViewHook, MergeStats

        try:
            policy = scoring_policy(self.scoring)
        except (TypeError, ValueError) as err:
            raise AirflowFailException(f"Invalid scoring settings: {err}") from None
        batches = self._requested_batches(context)
        hook = MergedViewHook(
            self.azure_cosmos_conn_id,
            container_name=self.container_name,
            max_concurrency=self.max_concurrency,
            policy=policy,
        )
        started = time.monotonic()
        total = MergeStats()
        failed_batches: list[str] = []
        refused_batches: list[str] = []
        for ref in batches:
            try:
                documents = read_json_lines(open_path(ref.valid_uri, ref.storage_conn_id))
                stats = hook.merge_documents(documents, written_at=ref.written_at, batch_uri=ref.valid_uri)
            except (StoragePathError, BatchFormatError) as err:
                refused_batches.append(str(err))
                continue
            except (FileNotFoundError, ValueError) as err:
                failed_batches.append(f"{ref.valid_uri}: {type(err).__name__}: {err}")
                continue
            self.log.info("Merged %s (%s): %s", ref.valid_uri, ref.source or "?", stats.as_dict())
            total.add(stats)
        duration = round(time.monotonic() - started, 3)
        charge = total.read_charge + total.write_charge
        result = {
            "container": hook.container_name,
            "batches": len(batches),
            **total.as_dict(),
            "request_charge": round(charge, 2),
            "ru_per_document": round(charge / total.documents, 2) if total.documents else 0.0,
            "duration_seconds": duration,
        }
        self.log.info("Merged view %s/%s: %s", hook.database_name, hook.container_name, result)
        if refused_batches and not (failed_batches or total.failed):
            raise AirflowFailException(
                f"{len(refused_batches)} batches refused, the rest merged: {refused_batches[:3]}; "
                "a retry would refuse them again."
            )
        if failed_batches or total.failed:
            raise StoreWriteError(
                f"{len(failed_batches)} batches unreadable {failed_batches[:3]}, {len(refused_batches)} "
                f"refused {refused_batches[:3]}, {total.failed} documents "
                f"not merged (first failures: {total.failures[:5]}); merging is idempotent, "
                "so the retry is safe."
            )
        context["outlet_events"][merged_asset()].extra = {
            key: result[key] for key in ("batches", "documents", "created", "updated", "deleted")
        }
        return result
