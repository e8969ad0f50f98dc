"""The real ``validate`` over pages already stored as ``fetch`` stores them, without a DAG run.

Tests and fault cases that drive a hook and ``fetch``'s page store themselves hand the stored
pages here; ``valid.jsonl`` and ``quarantine.jsonl`` are written in the batch's folder.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from threatstream.records.results import FetchResult, StoredPage, ValidateResult
from threatstream.sources.base import SourceSpec


def validate_stored(
    spec: SourceSpec,
    folder: Path,
    pages: Sequence[StoredPage],
    *,
    start: datetime | None,
    end: datetime | None,
    fetched_at: datetime,
    requests: int = 1,
    run_id: str = "manual__stored_pages",
) -> ValidateResult:
    """Run the real validate of ``spec`` over ``pages`` stored under ``folder``."""
    from threatstream.batches.storage import open_path
    from threatstream.operators.validate import ValidateIndicatorsOperator

    fetched = FetchResult(
        source=spec.name,
        run_id=run_id,
        data_interval_start=start,
        data_interval_end=end,
        prefix=folder.as_uri(),
        pages=list(pages),
        bytes=sum(page.bytes for page in pages),
        records=sum(page.records for page in pages),
        sha256="0" * 64,
        fetched_at=fetched_at,
        requests=requests,
        duration_seconds=0.0,
    )
    operator = ValidateIndicatorsOperator(task_id="validate", source=spec.name)
    return operator._validate(
        spec,
        fetched,
        open_path((folder / "valid.jsonl").as_uri()),
        open_path((folder / "quarantine.jsonl").as_uri()),
    )
