"""The merged view's container: point reads, and merges written with optimistic concurrency.

The merged view lives in a container of its own (default ``indicators_merged``, in the
database of the ``threatstream_cosmos`` connection), with the same partition key scheme as
the source documents and its own indexing policy (``store/container_settings/merged_container.json``).

Every source document is merged by a point read of its merged document, the pure
:func:`threatstream.merged.merge.merge`, and a write conditioned on the ETag that was read
(``If-Match``); a concurrent writer makes the write fail with 412 (or 409 for two creates),
and the document is read and merged again. No update is lost, whatever runs concurrently.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from itertools import islice
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import ServiceRequestError, ServiceResponseError
from azure.cosmos import ContainerProxy
from azure.cosmos.exceptions import CosmosHttpResponseError

from threatstream.canonical.identity import merged_keys
from threatstream.merged.merge import content_of, merge, prepare_for_write
from threatstream.merged.scoring import DEFAULT_POLICY, ScoringPolicy
from threatstream.settings import settings
from threatstream.store.base import CosmosStoreHook, keep_failures, request_charge
from threatstream.store.containers import MERGED_SETTINGS

#: Statuses that mean "someone else wrote first": read, merge and write again.
CONFLICT_STATUSES = frozenset({404, 409, 412})


#: The queries a SOC tool runs against the merged view (``docs/merged-view.md``), each served
#: by the merged container's indexing policy. A lookup by value is a point read, not a query.
SOC_QUERIES: Mapping[str, str] = {
    # A value whose type is unknown: one indexed equality, fanned out over partitions.
    "by_value": "SELECT * FROM c WHERE c.indicator_value = @value",
    # The strongest indicators of one type: composite index (indicator_type ASC, score DESC).
    "by_type_and_score": (
        "SELECT TOP 100 c.id, c.indicator_value, c.score, c.source_count, c.last_seen FROM c "
        "WHERE c.indicator_type = @type AND c.score >= @min_score "
        "ORDER BY c.indicator_type ASC, c.score DESC"
    ),
    # What changed since a time (incremental sync to a SIEM/TIP): range index on updated_at.
    "recently_changed": "SELECT * FROM c WHERE c.updated_at >= @since ORDER BY c.updated_at ASC",
    # Values several sources agree on: range indexes on source_count and score.
    "corroborated": (
        "SELECT c.indicator_type, c.indicator_value, c.score, c.source_names FROM c "
        "WHERE c.source_count >= @min_sources AND c.score >= @min_score"
    ),
    # Everything one source vouches for: index on source_names[].
    "by_source": (
        "SELECT c.indicator_type, c.indicator_value, c.score FROM c "
        "WHERE ARRAY_CONTAINS(c.source_names, @source) AND c.score >= @min_score"
    ),
}


def default_merged_container() -> str:
    """``[threatstream] merged_container``, default ``indicators_merged``."""
    return settings().merged_container


@dataclass
class MergeStats:
    """What merging a stream of source documents did, and what it cost."""

    documents: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    expired: int = 0
    conflicts: int = 0
    failed: int = 0
    read_charge: float = 0.0
    write_charge: float = 0.0
    failures: list[dict[str, Any]] = field(default_factory=list)

    def add(self, other: MergeStats) -> None:
        for item in fields(self):
            if item.name != "failures":
                setattr(self, item.name, getattr(self, item.name) + getattr(other, item.name))
        keep_failures(self.failures, other.failures)

    def as_dict(self) -> dict[str, Any]:
        result = {item.name: getattr(self, item.name) for item in fields(self) if item.name != "failures"}
        result["read_charge"] = round(self.read_charge, 2)
        result["write_charge"] = round(self.write_charge, 2)
        return result


#: The orders :meth:`MergedViewHook.ranked` offers, and the document field each sorts by.
RANKED_ORDERS = {"score": "score", "recent": "updated_at"}


@dataclass
class RankedPage:
    """A page of merged documents, the token of the next page (None: last) and its RU charge."""

    documents: list[dict[str, Any]]
    continuation: str | None
    request_charge: float


class _Charge:
    """A ``response_hook`` that adds up request charges."""

    def __init__(self) -> None:
        self.total = 0.0

    def __call__(self, headers: Mapping[str, Any], _body: Any) -> None:
        self.total += request_charge(headers)


class MergedViewHook(CosmosStoreHook):
    """The merged-view container of the ``threatstream_cosmos`` database.

    :param azure_cosmos_conn_id: the store connection (same account and database).
    :param container_name: the merged container; default ``[threatstream] merged_container``
        or ``indicators_merged``.
    :param max_concurrency: source documents merged at once.
    :param max_conflicts: read-merge-write attempts per document when others write first.
    :param policy: the scoring policy.
    :param kwargs: ``max_attempts`` and ``backoff_initial`` (see :class:`CosmosStoreHook`).
    """

    hook_name = "ThreatStream merged view"
    settings_file = MERGED_SETTINGS

    def __init__(
        self,
        azure_cosmos_conn_id: str = CosmosStoreHook.default_conn_name,
        *,
        container_name: str | None = None,
        max_concurrency: int = 8,
        max_conflicts: int = 50,
        policy: ScoringPolicy | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(azure_cosmos_conn_id, **kwargs)
        self._container_name = container_name or default_merged_container()
        self.max_concurrency = max_concurrency
        self.max_conflicts = max_conflicts
        self.policy = policy or DEFAULT_POLICY

    @property
    def container_name(self) -> str:
        return self._container_name

    # -- reads -------------------------------------------------------------------------

    def read_merged(self, indicator_type: str, canonical_value: str) -> tuple[dict[str, Any] | None, float]:
        """Point read of one value's merged document (None when absent) and its RU charge."""
        charge = _Charge()
        document_id, partition_key = merged_keys(indicator_type, canonical_value)
        try:
            item: dict[str, Any] = self._retrying()(
                self.get_container().read_item,
                document_id,
                partition_key=partition_key,
                response_hook=charge,
            )
        except CosmosHttpResponseError as err:
            if err.status_code == 404:
                return None, charge.total
            if err.status_code in (401, 403):
                raise self._classify(err, "reading a merged document") from None
            raise
        return item, charge.total

    def changed_between(
        self, since: datetime, until: datetime, *, page_size: int = 500
    ) -> Iterator[dict[str, Any]]:
        """Merged documents whose ``updated_at`` is in ``[since, until)``, oldest change first.

        Streams the query page by page (``page_size`` documents per request).
        """
        from threatstream.parsing.timestamps import SORTABLE, format_utc

        items = self.get_container().query_items(
            "SELECT * FROM c WHERE c.updated_at >= @since AND c.updated_at < @until ORDER BY c.updated_at",
            parameters=[
                {"name": "@since", "value": format_utc(since, SORTABLE)},
                {"name": "@until", "value": format_utc(until, SORTABLE)},
            ],
            enable_cross_partition_query=True,
            max_item_count=page_size,
        )
        yield from items

    def ranked(
        self, order: str, limit: int, continuation: str | None = None, *, now: datetime | None = None
    ) -> RankedPage:
        """One page of unexpired merged documents, highest stored ``score`` first (``order``
        ``score``) or most recently changed first (``recent``: ``updated_at``).

        Both orders are served by the container's range indexes; ``continuation`` is the
        previous page's token (opaque, from the store).
        """
        from threatstream.parsing.timestamps import SORTABLE, format_utc

        field_name = RANKED_ORDERS[order]
        charge = _Charge()
        pages = (
            self.get_container()
            .query_items(
                f"SELECT * FROM c WHERE c.expires_at > @now ORDER BY c.{field_name} DESC",  # noqa: S608 (a RANKED_ORDERS field)
                parameters=[{"name": "@now", "value": format_utc(now or datetime.now(UTC), SORTABLE)}],
                enable_cross_partition_query=True,
                max_item_count=limit,
                response_hook=charge,
            )
            .by_page(continuation)
        )
        items = list(islice(next(pages, iter(())), limit))
        next_page: str | None = getattr(pages, "continuation_token", None)
        return RankedPage(items, next_page, charge.total)

    # -- merges ------------------------------------------------------------------------

    def merge_documents(
        self,
        documents: Iterable[Mapping[str, Any]],
        *,
        written_at: datetime | None = None,
        batch_uri: str | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        chunk_size: int = 1000,
    ) -> MergeStats:
        """Merge canonical source documents into the view, ``max_concurrency`` at a time.

        Streams ``documents`` ``chunk_size`` at a time (flat memory). A document that
        cannot be merged is counted in ``failed`` with its reason, never raised, so the
        rest of the batch still lands.
        """
        container = self.get_container()
        stats = MergeStats()
        iterator = iter(documents)

        def one(document: Mapping[str, Any]) -> MergeStats:
            return self._merge_one(container, document, written_at, batch_uri, clock)

        with ThreadPoolExecutor(max_workers=self.max_concurrency, thread_name_prefix="merged-view") as pool:
            while chunk := list(islice(iterator, chunk_size)):
                for result in pool.map(one, chunk):
                    stats.add(result)
        return stats

    def _merge_one(
        self,
        container: ContainerProxy,
        document: Mapping[str, Any],
        written_at: datetime | None,
        batch_uri: str | None,
        clock: Callable[[], datetime],
    ) -> MergeStats:
        stats = MergeStats(documents=1)
        try:
            kind, value = str(document["indicator_type"]), str(document["indicator_value"])
            for attempt in range(self.max_conflicts):
                if attempt:
                    # Someone else wrote first: back off a little (jittered) before re-reading.
                    time.sleep(random.uniform(0, min(0.005 * attempt, 0.1)))  # noqa: S311
                existing, charge = self.read_merged(kind, value)
                stats.read_charge += charge
                merged = merge(
                    existing, document, written_at=written_at, batch_uri=batch_uri, policy=self.policy
                )
                prepared = prepare_for_write(merged, clock(), self.policy)
                try:
                    outcome, charge = self._write(container, existing, prepared)
                except CosmosHttpResponseError as err:
                    if err.status_code not in CONFLICT_STATUSES:
                        raise
                    stats.conflicts += 1
                    continue
                stats.write_charge += charge
                setattr(stats, outcome, getattr(stats, outcome) + 1)
                return stats
            raise RuntimeError(f"still conflicting after {self.max_conflicts} attempts")
        except CosmosHttpResponseError as err:
            if err.status_code in (401, 403):
                raise self._classify(err, "merging a document") from None
            return self._merge_failed(stats, document, f"HTTP {err.status_code}")
        except (ServiceRequestError, ServiceResponseError) as err:
            return self._merge_failed(stats, document, type(err).__name__)
        except (KeyError, TypeError, ValueError, RuntimeError) as err:
            return self._merge_failed(stats, document, f"{type(err).__name__}: {err}")

    def _write(
        self, container: ContainerProxy, existing: dict[str, Any] | None, prepared: dict[str, Any] | None
    ) -> tuple[str, float]:
        """Write ``prepared`` over ``existing`` if nobody changed it since it was read."""
        charge = _Charge()
        if prepared is None:
            if existing is None:
                return "expired", 0.0
            self._retrying()(
                container.delete_item,
                existing["id"],
                partition_key=existing["partition_key"],
                etag=existing["_etag"],
                match_condition=MatchConditions.IfNotModified,
                response_hook=charge,
            )
            return "deleted", charge.total
        if existing is None:
            self._retrying()(container.create_item, prepared, response_hook=charge)
            return "created", charge.total
        if content_of(existing) == content_of(prepared):
            return "unchanged", 0.0
        self._retrying()(
            container.replace_item,
            existing["id"],
            prepared,
            etag=existing["_etag"],
            match_condition=MatchConditions.IfNotModified,
            response_hook=charge,
        )
        return "updated", charge.total

    @staticmethod
    def _merge_failed(stats: MergeStats, document: Mapping[str, Any], reason: str) -> MergeStats:
        stats.failed += 1
        keep_failures(stats.failures, [{"id": document.get("id"), "reason": reason}])
        return stats
