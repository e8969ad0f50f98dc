"""What a source is: a hook, two pure parsing functions and a few lines of configuration."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow.sdk import Asset

from threatstream.feeds.pages import FetchedPage
from threatstream.naming import airflow_name, source_asset
from threatstream.records.indicators import Observation

if TYPE_CHECKING:
    from threatstream.feeds.hook import FeedHook

#: Splits one raw page into the records that are validated (and quarantined) one by one.
#: The page's body may be a stream: read it with ``page.open()`` (incrementally) or
#: ``page.body`` (whole); return an iterable, ideally a generator, so memory stays flat.
SplitRecords = Callable[[FetchedPage], Iterable[Mapping[str, Any]]]
#: Maps one record (plus the page's context) to an observation; raises on a bad record.
ParseRecord = Callable[[Mapping[str, Any], Mapping[str, Any]], Observation]


@dataclass(frozen=True)
class SourceSpec:
    """Everything the operators and the DAG factory need to know about one feed.

    :param name: short id used in connection ids, DAG ids, document ids and storage paths.
    :param title: human name for docs and logs.
    :param hook_class: the feed's :class:`FeedHook` subclass.
    :param split_records: pure function, raw page -> records.
    :param parse_record: pure function, record -> :class:`Observation`.
    :param schedule: cron expression of the DAG (respect the feed's fair-use rules).
    :param default_ttl: how long an indicator lives in the store unless refreshed.
    :param fetch_options: default keyword options for ``hook.iter_pages`` (DAG params).
    :param hook_params: keyword arguments for the hook (e.g. ``max_retry_after`` or a limit
        such as ``max_body_bytes`` overriding the hook's ``default_limits``).
    :param interval_based: whether the feed can be asked for a past time window, so runs
        cover real data intervals and backfill is meaningful; snapshot feeds cannot.
    :param max_reject_ratio: share of rejected records above which validation fails the run.
    :param description: one paragraph for the DAG docs.
    :param weight: trust in the source's reports as such, 0-1 (the merged score's ``w_s``;
        curated, verified lists weigh more than community ones).
    :param default_confidence: confidence (0-100) assumed for a report that carries none.
    :param spec_file: the list spec file a declarative list feed was made from (None for a
        built-in feed with a module of its own).
    """

    name: str
    title: str
    hook_class: type[FeedHook]
    split_records: SplitRecords
    parse_record: ParseRecord
    schedule: str
    default_ttl: timedelta
    fetch_options: Mapping[str, Any] = field(default_factory=dict)
    hook_params: Mapping[str, Any] = field(default_factory=dict)
    interval_based: bool = False
    max_reject_ratio: float = 0.2
    description: str = ""
    weight: float = 0.5
    default_confidence: int = 50
    spec_file: Path | None = None

    def __post_init__(self) -> None:
        if not 0.0 <= self.weight <= 1.0:
            raise ValueError(f"source {self.name}: weight must be within 0-1, got {self.weight}")
        if not 0 <= self.default_confidence <= 100:
            raise ValueError(
                f"source {self.name}: default_confidence must be within 0-100, got {self.default_confidence}"
            )

    @property
    def dag_id(self) -> str:
        """The source's ingestion DAG."""
        return airflow_name(self.name)

    @property
    def conn_id(self) -> str:
        """The feed's default connection (the hook's ``default_conn_name``)."""
        return self.hook_class.default_conn_name

    @property
    def pool(self) -> str:
        """The pool of the source's fetch task, when ``[threatstream] use_pools`` is on."""
        return airflow_name(self.name)

    @property
    def asset(self) -> Asset:
        """The Asset each successful upsert of the source updates."""
        return source_asset(self.name)

    @property
    def storage_folder(self) -> str:
        """The folder of the source's batches under the storage base."""
        return self.name

    @property
    def fetch_option_schema(self) -> Mapping[str, Mapping[str, Any]]:
        """JSON-schema fragment per fetch option (``type``, ``minimum``, ``maximum``, ``enum``,
        ``format``, ``description``): the hook's :attr:`~FeedHook.option_schema`.

        One definition serves both checks: the hook refuses values outside it before any
        request, and the DAG factory turns each entry into a ``Param``, so the trigger form and
        the REST API refuse them up front.
        """
        return self.hook_class.option_schema
