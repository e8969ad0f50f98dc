"""The run summary: one structured log line per run, also carried in the Asset event's extra.

``upsert`` (the last task) logs ``ThreatStream run summary {json}`` with the counts of every
stage; the same counts go into the ``summary`` key of the source Asset's event extra, which
the Airflow UI shows on the run's and the asset's "Asset Events" without opening XCom.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from threatstream.records.results import FetchResult, UpsertResult, ValidateResult


@dataclass(frozen=True)
class RunSummary:
    """What one run did, stage by stage."""

    source: str
    run_id: str
    fetched: int
    valid: int
    quarantined: int
    expired: int
    duplicates: int
    unknown_tlp: int
    written: int
    failed: int
    request_units: float
    duration_seconds: float
    dry_run: bool = False

    @classmethod
    def of(
        cls,
        fetched: FetchResult,
        validated: ValidateResult,
        upserted: UpsertResult | None,
        *,
        dry_run: bool = False,
        now: datetime | None = None,
    ) -> RunSummary:
        """Summarise the stage results; duration runs from fetch start to now."""
        end = now or datetime.now(UTC)
        return cls(
            source=validated.source,
            run_id=validated.run_id,
            fetched=fetched.records,
            valid=validated.valid,
            quarantined=validated.rejected,
            expired=validated.expired,
            duplicates=validated.duplicates,
            unknown_tlp=validated.unknown_tlp,
            written=upserted.written if upserted else 0,
            failed=upserted.failed if upserted else 0,
            request_units=upserted.request_charge if upserted else 0.0,
            duration_seconds=round(max((end - fetched.fetched_at).total_seconds(), 0.0), 3),
            dry_run=dry_run,
        )

    def counts(self) -> dict[str, Any]:
        """The numbers, without the identifiers (for the Asset event extra)."""
        return {key: value for key, value in asdict(self).items() if key not in ("source", "run_id")}

    def line(self) -> str:
        """A one-line human summary."""
        return (
            f"{self.source}: fetched {self.fetched}, valid {self.valid}, quarantined {self.quarantined}, "
            f"expired {self.expired}, duplicates {self.duplicates}, unknown TLP {self.unknown_tlp}, "
            f"written {self.written}, "
            f"failed {self.failed}, {self.request_units:.1f} RU, {self.duration_seconds:.1f}s"
            + (" (dry run: nothing written)" if self.dry_run else "")
        )


def log_summary(summary: RunSummary, logger: logging.Logger | logging.LoggerAdapter[Any] | Any) -> None:
    """Log the summary as one structured line (JSON after a fixed prefix)."""
    logger.info("ThreatStream run summary %s", json.dumps(asdict(summary), sort_keys=True))
