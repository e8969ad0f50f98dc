"""Batch metadata the operators return through XCom (indicators themselves never travel
through XCom; they live in object storage)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from threatstream.records.fields import UtcDatetime


class StoredPage(BaseModel):
    """One raw response page written to object storage by ``fetch``."""

    model_config = ConfigDict(frozen=True)

    uri: str
    kind: str = "default"
    context: dict[str, Any] = Field(default_factory=dict)
    bytes: int
    records: int
    sha256: str


class FetchResult(BaseModel):
    """Batch metadata returned by ``fetch`` (XCom)."""

    source: str
    run_id: str
    data_interval_start: UtcDatetime | None
    data_interval_end: UtcDatetime | None
    prefix: str
    storage_conn_id: str | None = None
    pages: list[StoredPage]
    bytes: int
    records: int
    sha256: str = Field(description="SHA-256 over the page digests, in page order.")
    fetched_at: UtcDatetime
    requests: int
    duration_seconds: float
    source_metadata: dict[str, Any] = Field(default_factory=dict)
    up_to_date: bool = Field(
        default=False,
        description="The feed said nothing changed since the last committed bookmark: no records expected.",
    )


class ValidateResult(BaseModel):
    """Batch metadata returned by ``validate`` (XCom)."""

    source: str
    run_id: str
    valid_uri: str
    quarantine_uri: str
    storage_conn_id: str | None = None
    ingested_at: UtcDatetime
    records: int
    valid: int
    rejected: int
    expired: int
    duplicates: int
    trimmed: int = Field(default=0, description="Valid documents whose raw metadata was cut to fit.")
    unknown_tlp: int = Field(default=0, description="Valid documents whose TLP label was not recognised.")
    reject_ratio: float = Field(description="Rejected records (but not warninglist quarantines) / records.")
    reasons: dict[str, int]
    warninglisted: int = Field(default=0, description="Valid documents flagged as on a warninglist.")
    warninglist_hits: dict[str, int] = Field(
        default_factory=dict, description="Indicators on each warninglist (flagged or quarantined)."
    )


class UpsertResult(BaseModel):
    """Batch metadata returned by ``upsert`` (XCom)."""

    source: str
    run_id: str
    attempted: int = 0
    written: int = 0
    failed: int = Field(default=0, description="Documents not written, including the refused ones.")
    refused: int = Field(default=0, description="Documents the store refused for their content (400/413).")
    store_quarantine_uri: str | None = None
    throttled: int = Field(default=0, description="Requests the store answered 429 (retried in the task).")
    batches: int = 0
    request_charge: float = 0.0
    duration_seconds: float = 0.0
