"""Run a source's pure parsing over a recorded page, the way ``validate`` does, without Airflow;
or the real ``validate`` over one page as ``fetch`` stores it."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from threatstream.canonical.errors import InvalidIndicator
from threatstream.feeds.pages import FetchedPage
from threatstream.records.indicators import Indicator
from threatstream.records.results import StoredPage, ValidateResult
from threatstream.sources.base import SourceSpec

FEEDS = Path(__file__).resolve().parents[1] / "include" / "feeds"
INGESTED = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


@dataclass
class Batch:
    """Canonical indicators (de-duplicated by id), rejects by reason, expired count."""

    indicators: dict[str, Indicator] = field(default_factory=dict)
    rejects: Counter[str] = field(default_factory=Counter)
    expired: int = 0
    records: int = 0

    def by_value(self) -> dict[str, Indicator]:
        return {i.indicator_value: i for i in self.indicators.values()}


def fixture_page(source: str, name: str, kind: str = "default", **context: object) -> FetchedPage:
    return FetchedPage((FEEDS / source / name).read_bytes(), kind, context)


def fixture_json(source: str, name: str) -> object:
    return json.loads((FEEDS / source / name).read_text(encoding="utf-8"))


def ingest(spec: SourceSpec, *pages: FetchedPage, at: datetime = INGESTED) -> Batch:
    """Split, parse and canonicalise ``pages`` like the validate task (same exception classes)."""
    batch = Batch()
    for page in pages:
        for record in spec.split_records(page):
            batch.records += 1
            try:
                observation = spec.parse_record(record, page.context)
                if observation.is_expired(at):
                    batch.expired += 1
                    continue
                indicator = observation.to_indicator(spec.name, ingested_at=at, default_ttl=spec.default_ttl)
            except InvalidIndicator as error:
                batch.rejects[error.reason] += 1
                continue
            except (ValueError, KeyError, TypeError, AttributeError):
                batch.rejects["malformed_record"] += 1
                continue
            batch.indicators.setdefault(indicator.id, indicator)
    return batch


def validate_page(
    spec: SourceSpec, folder: Path, body: bytes, *, kind: str = "default", records: int, **context: object
) -> ValidateResult:
    """The real ``validate`` over ``body`` stored as the one page of a batch in ``folder``;
    ``valid.jsonl`` and ``quarantine.jsonl`` are written there."""
    from threatstream_dev.batches import validate_stored

    page = folder / "page-0001.json"
    page.write_bytes(body)
    stored = StoredPage(
        uri=page.as_uri(),
        kind=kind,
        context=context,
        bytes=len(body),
        records=records,
        sha256=hashlib.sha256(body).hexdigest(),
    )
    return validate_stored(
        spec,
        folder,
        [stored],
        start=INGESTED,
        end=INGESTED,
        fetched_at=INGESTED,
        run_id="manual__validate_page",
    )
