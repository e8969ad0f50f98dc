"""``fetch``: stream a feed's raw pages into object storage; XCom gets batch metadata only."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, ClassVar

from airflow.sdk import BaseOperator, Context

from threatstream import quality
from threatstream.compat import AirflowSkipException
from threatstream.hooks.feed import FetchWindow
from threatstream.models import FetchResult, StoredPage
from threatstream.sources import get_source
from threatstream.storage import batch_prefix


class FetchFeedOperator(BaseOperator):
    """Fetch one batch from a feed and write each raw page to ``<prefix>/raw/``.

    :param source: registered source name (e.g. ``urlhaus``).
    :param http_conn_id: feed connection; defaults to ``threatstream_<source>``.
    :param fetch_options: keyword options for the hook's ``iter_pages`` (templated).
    :param hook_params: keyword arguments for the hook (retry attempts, ``max_retry_after``).
    :param storage_base: object-storage base URI (templated); defaults to the
        ``[threatstream] storage_base`` option.
    :param storage_conn_id: connection for the storage base, if it needs credentials.
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
        pages: list[StoredPage] = []
        batch_digest = hashlib.sha256()
        try:
            for number, page in enumerate(hook.iter_pages(window, **options), start=1):
                records = len(spec.split_records(page))
                path = raw_dir / f"page-{number:05d}.json"
                path.write_bytes(page.body)
                digest = hashlib.sha256(page.body).hexdigest()
                batch_digest.update(digest.encode())
                pages.append(
                    StoredPage(
                        uri=str(path),
                        kind=page.kind,
                        context=dict(page.context),
                        bytes=len(page.body),
                        records=records,
                        sha256=digest,
                    )
                )
                self.log.info(
                    "Stored page %d: %d records, %d bytes -> %s", number, records, len(page.body), path
                )
        finally:
            hook.close()

        result = FetchResult(
            source=spec.name,
            run_id=run_id,
            data_interval_start=window.start,
            data_interval_end=window.end,
            prefix=str(prefix),
            storage_conn_id=self.storage_conn_id,
            pages=pages,
            bytes=sum(page.bytes for page in pages),
            records=sum(page.records for page in pages),
            sha256=batch_digest.hexdigest(),
            fetched_at=fetched_at,
            requests=hook.request_count,
            duration_seconds=round(time.monotonic() - started, 3),
            source_metadata=hook.source_metadata(),
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
