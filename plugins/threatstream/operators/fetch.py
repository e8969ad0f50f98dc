"""``fetch``: stream a feed's raw pages into object storage; XCom gets batch metadata only.

Each page goes from the socket to storage in chunks, hashed and counted (bytes and
records) on the way, so memory stays flat whatever the feed's size; the hook bounds each
response, and the run is bounded to the hook's ``max_pages`` and ``max_records``.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import IO, Any, ClassVar

from airflow.sdk import BaseOperator, Context, ObjectStoragePath

from threatstream.batches.storage import batch_prefix, default_storage_conn_id
from threatstream.compat import AirflowSkipException
from threatstream.exceptions import FeedLimitExceeded
from threatstream.feeds.hook import FeedHook
from threatstream.feeds.pages import FetchedPage, FetchWindow
from threatstream.monitoring import quality
from threatstream.parsing.streams import ByteStream, ChunkReader
from threatstream.records.results import FetchResult, StoredPage
from threatstream.sources import SourceSpec, get_source

log = logging.getLogger(__name__)


class FetchFeedOperator(BaseOperator):
    """Fetch one batch from a feed and write each raw page to ``<prefix>/raw/``.

    :param source: registered source name (e.g. ``urlhaus``).
    :param http_conn_id: feed connection (templated); defaults to the source's, ``threatstream_<source>``.
    :param fetch_options: keyword options for the hook's ``iter_pages`` (templated).
    :param hook_params: keyword arguments for the hook (retry attempts, ``max_retry_after``).
    :param storage_base: object-storage base URI (templated); defaults to the
        ``[threatstream] storage_base`` option.
    :param storage_conn_id: connection for the storage base, if it needs credentials (templated).
    """

    template_fields: Sequence[str] = ("fetch_options", "storage_base", "storage_conn_id", "http_conn_id")
    template_fields_renderers: ClassVar[dict[str, str]] = {"fetch_options": "json"}
    ui_color = "#e8f1fb"

    def __init__(
        self,
        *,
        source: str,
        http_conn_id: str | None = None,
        fetch_options: Mapping[str, Any] | None = None,
        hook_params: Mapping[str, Any] | None = None,
        storage_base: str | None = None,
        storage_conn_id: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.source = source
        self.http_conn_id = http_conn_id
        self.fetch_options = dict(fetch_options or {})
        self.hook_params = dict(hook_params or {})
        self.storage_base = storage_base
        self.storage_conn_id = storage_conn_id

    def execute(self, context: Context) -> dict[str, Any]:
        spec = get_source(self.source)
        dag_run = context.get("dag_run")
        if not spec.interval_based and dag_run is not None and dag_run.run_type == "backfill":
            raise AirflowSkipException(
                f"{spec.title} is a snapshot feed with no time filter: a backfill run cannot fetch "
                "past data, so it is skipped rather than re-ingesting today's data under a past date."
            )
        hook = spec.hook_class(self.http_conn_id, **{**spec.hook_params, **self.hook_params})
        run_id = str(context["run_id"])
        window = FetchWindow(context.get("data_interval_start"), context.get("data_interval_end"))
        prefix = batch_prefix(spec.name, run_id, self.storage_base, self.storage_conn_id)
        raw_dir = prefix / "raw"
        if raw_dir.exists():
            raw_dir.rmdir(recursive=True)
        raw_dir.mkdir(parents=True, exist_ok=True)

        options = {key: value for key, value in self.fetch_options.items() if value is not None}
        fetched_at = datetime.now(UTC)
        started = time.monotonic()
        try:
            pages = store_pages(spec, hook, window, raw_dir, options)
        finally:
            hook.close()
        records = sum(page.records for page in pages)

        batch_digest = hashlib.sha256()
        for stored in pages:
            batch_digest.update(stored.sha256.encode())
        result = FetchResult(
            source=spec.name,
            run_id=run_id,
            data_interval_start=window.start,
            data_interval_end=window.end,
            prefix=str(prefix),
            storage_conn_id=self.storage_conn_id or default_storage_conn_id(),
            pages=pages,
            bytes=sum(page.bytes for page in pages),
            records=records,
            sha256=batch_digest.hexdigest(),
            fetched_at=fetched_at,
            requests=hook.request_count,
            duration_seconds=round(time.monotonic() - started, 3),
            source_metadata=hook.source_metadata(),
            up_to_date=hook.up_to_date(),
        )
        self.log.info(
            "Fetched %d records in %d pages (%d bytes, %d requests) from %s",
            result.records,
            len(pages),
            result.bytes,
            result.requests,
            spec.title,
        )
        quality.report_fetched(result)
        return result.model_dump(mode="json")


def store_pages(
    spec: SourceSpec,
    hook: FeedHook,
    window: FetchWindow,
    folder: ObjectStoragePath,
    options: Mapping[str, Any] | None = None,
) -> list[StoredPage]:
    """Store every page of ``hook``'s run into ``folder`` (``page-00001.json``...), in order.

    Each page is streamed by :func:`_store_page`, read again from its start when a transient
    failure cuts it short (the hook's in-task retries); the run is bounded to the hook's
    ``max_pages`` and ``max_records``.
    """
    limits = hook.limits
    pages: list[StoredPage] = []
    records = 0
    for number, page in enumerate(hook.iter_pages(window, **(options or {})), start=1):
        if number > limits.max_pages:
            raise FeedLimitExceeded(
                f"{spec.title}: more than max_pages={limits.max_pages} pages in one run; "
                "raise the limit (connection extra 'max_pages') if the feed really grew."
            )
        path = folder / f"page-{number:05d}.json"
        stored = hook.with_retries(
            f"reading page {number}", _store_page, spec, page, path, records, limits.max_records
        )
        records += stored.records
        pages.append(stored)
        log.info("Stored page %d: %d records, %d bytes -> %s", number, stored.records, stored.bytes, path)
    return pages


class _HashingTee(ChunkReader):
    """Reads ``source`` for a parser while writing every byte to ``sink`` and hashing it."""

    def __init__(self, source: ByteStream, sink: IO[bytes]) -> None:
        super().__init__()
        self._source = source
        self._sink = sink
        self._digest = hashlib.sha256()
        self.bytes = 0

    def read_chunk(self, size: int) -> bytes:
        data = self._source.read(size)
        if data:
            self._sink.write(data)
            self._digest.update(data)
            self.bytes += len(data)
        return data

    def drain(self) -> None:
        """Pass on whatever the parser did not read (trailing bytes)."""
        while self.read_chunk(_CHUNK_BYTES):
            pass

    def hexdigest(self) -> str:
        return self._digest.hexdigest()


_CHUNK_BYTES = 1 << 16


def _store_page(
    spec: SourceSpec, page: FetchedPage, path: ObjectStoragePath, records_before: int, max_records: int
) -> StoredPage:
    """Stream one page into ``path`` while hashing it and counting its records, in one pass.

    The body goes from the feed (or memory) to storage in chunks; the source's
    ``split_records`` reads it as it passes, so each page is parsed once and never held
    whole. More than ``max_records`` records in the run so far fails it.
    """
    records = 0
    with path.open("wb") as sink, page.open() as source:  # type: ignore[no-untyped-call]
        tee = _HashingTee(source, sink)
        for _ in spec.split_records(FetchedPage(tee, page.kind, page.context)):
            records += 1
            if records_before + records > max_records:
                raise FeedLimitExceeded(
                    f"{spec.title}: more than max_records={max_records} records in one run; raise the "
                    "limit (connection extra 'max_records') if the feed really grew."
                )
        tee.drain()
    return StoredPage(
        uri=str(path),
        kind=page.kind,
        context=dict(page.context),
        bytes=tee.bytes,
        records=records,
        sha256=tee.hexdigest(),
    )
