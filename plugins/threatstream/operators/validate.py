"""``validate``: canonicalise a fetched batch, quarantining every record that fails."""

from __future__ import annotations

import hashlib
from array import array
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import timedelta
from typing import IO, Any, TypeVar

from airflow.sdk import BaseOperator, Context, ObjectStoragePath

from threatstream.batches.collection import fewer_collections
from threatstream.batches.encoding import encode_document, encode_entry
from threatstream.batches.storage import JsonLinesWriter, open_path
from threatstream.canonical.errors import InvalidIndicator
from threatstream.exceptions import BatchIntegrityError, RejectRatioExceeded
from threatstream.feeds.pages import FetchedPage
from threatstream.monitoring import quality
from threatstream.parsing.streams import ChunkReader
from threatstream.records.indicators import DocumentBuilder
from threatstream.records.results import FetchResult, StoredPage, ValidateResult
from threatstream.rules import warninglists
from threatstream.sources import SourceSpec, get_source

_T = TypeVar("_T")

#: Longest error message kept in a quarantine entry (a pydantic error may quote a huge input).
MAX_MESSAGE_CHARS = 2000
WARNINGLIST_REASON = warninglists.QUARANTINE_REASON


def _reject_reason(error: Exception) -> tuple[str, str]:
    """A short reason code and a bounded message for a rejected record."""
    try:
        text = str(error)
    except Exception:  # an exception whose str() fails still names its type
        text = "<no message>"
    if isinstance(error, InvalidIndicator):
        return error.reason, text[:MAX_MESSAGE_CHARS]
    return "malformed_record", f"{type(error).__name__}: {text}"[:MAX_MESSAGE_CHARS]


def _id_key(indicator_id: str) -> int:
    """A compact non-zero 64-bit key for de-duplication within one task: the string's own hash
    (SipHash, computed once per string; collisions among a million ids are negligible)."""
    return hash(indicator_id) & _KEY_MASK or 1


_KEY_MASK = (1 << 64) - 1


class SeenKeys:
    """A set of non-zero 64-bit keys, kept compact for large batches.

    The first ``small_keys`` keys live in a Python ``set`` (fast, about 70 bytes a key); past
    that they all move to one flat array of 8-16 bytes per key, so a million-row feed costs
    ~16 MB instead of ~70 MB. The array uses open addressing with linear probing, at most
    half full.

    :param capacity: initial slots of the array (a power of two).
    :param small_keys: keys held in the ``set`` before moving to the array.
    """

    def __init__(self, capacity: int = 1 << 16, small_keys: int = 1 << 16) -> None:
        self._small: set[int] | None = set()
        self._small_keys = small_keys
        self._capacity = capacity
        self._table = array("Q")
        self._mask = 0
        self._count = 0

    def __len__(self) -> int:
        return len(self._small) if self._small is not None else self._count

    def add(self, key: int) -> bool:
        """Add ``key`` (non-zero); False if it was already there."""
        small = self._small
        if small is not None:
            if key in small:
                return False
            small.add(key)
            if len(small) > self._small_keys:
                self._move_to_table(small)
            return True
        table, mask = self._table, self._mask
        slot = key & mask
        while (present := table[slot]) != 0:
            if present == key:
                return False
            slot = (slot + 1) & mask
        table[slot] = key
        self._count += 1
        if self._count * 2 > mask:
            self._resize(2 * len(table))
        return True

    def _move_to_table(self, keys: set[int]) -> None:
        self._small = None
        capacity = self._capacity
        while capacity < 4 * len(keys):
            capacity *= 2
        self._resize(capacity, keys)

    def _resize(self, capacity: int, keys: Iterable[int] | None = None) -> None:
        old = self._table if keys is None else keys
        self._table = array("Q", bytes(8 * capacity))
        self._mask = capacity - 1
        self._count = 0
        for key in old:
            if key:
                self.add(key)


class ValidateIndicatorsOperator(BaseOperator):
    """Stream the raw pages of a batch, write canonical indicators and a quarantine file.

    Each record fails alone: a record that cannot be parsed or canonicalised goes to
    ``quarantine.jsonl`` with its raw input and reason, whatever the record holds (invalid
    Unicode, deep nesting, huge numbers, wrong types). A document over the store's size bound
    loses its largest raw-metadata fields (named in ``raw_metadata._trimmed``) or, if still too
    large, is quarantined as ``too_large``. Inactive or expired indicators are
    counted, not stored. When the share of rejected records exceeds ``max_reject_ratio``
    the task fails without retry: the feed has most likely changed shape.

    Every canonical indicator is checked against the configured MISP warninglists
    (``[threatstream] warninglists``, see ``docs/warninglists.md``): a hit is flagged in the
    document's ``warninglists`` field, or quarantined with reason ``warninglist`` when the
    policy says so; such quarantines do not count toward ``max_reject_ratio``.

    :param source: registered source name.
    :param fetch_task_id: task whose XCom holds the :class:`FetchResult`.
    :param max_reject_ratio: 0-1, templated; defaults to the source's setting.
    :param default_ttl: lifetime of stored indicators; defaults to the source's setting.
    """

    template_fields: Sequence[str] = ("max_reject_ratio",)
    ui_color = "#fdf5e6"

    def __init__(
        self,
        *,
        source: str,
        fetch_task_id: str = "fetch",
        max_reject_ratio: float | str | None = None,
        default_ttl: timedelta | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.source = source
        self.fetch_task_id = fetch_task_id
        self.max_reject_ratio = max_reject_ratio
        self.default_ttl = default_ttl

    def execute(self, context: Context) -> dict[str, Any]:
        spec = get_source(self.source)
        lists = warninglists.configured()  # a bad list name or policy fails here, at once
        fetched = FetchResult.model_validate(context["ti"].xcom_pull(task_ids=self.fetch_task_id))
        prefix = open_path(fetched.prefix, fetched.storage_conn_id)
        max_ratio = float(
            self.max_reject_ratio if self.max_reject_ratio is not None else spec.max_reject_ratio
        )
        result = self._validate(
            spec, fetched, prefix / "valid.jsonl", prefix / "quarantine.jsonl", lists=lists
        )
        self.log.info(
            "%d records: %d valid (%d trimmed, %d warninglisted), %d rejected, %d expired, "
            "%d duplicates; reasons %s; warninglist hits %s",
            result.records,
            result.valid,
            result.trimmed,
            result.warninglisted,
            result.rejected,
            result.expired,
            result.duplicates,
            result.reasons,
            result.warninglist_hits,
        )
        if result.reject_ratio > max_ratio:
            raise RejectRatioExceeded(
                f"{spec.title}: {result.rejected - result.reasons.get(WARNINGLIST_REASON, 0)} of "
                f"{result.records} records rejected "
                f"({result.reject_ratio:.1%} > {max_ratio:.1%}); the feed may have changed shape. "
                f"Rejected records and reasons: {result.quarantine_uri}"
            )
        quality.report_validated(result, max_ratio, up_to_date=fetched.up_to_date)
        return result.model_dump(mode="json")

    def _validate(
        self,
        spec: SourceSpec,
        fetched: FetchResult,
        valid_path: ObjectStoragePath,
        quarantine_path: ObjectStoragePath,
        *,
        lists: warninglists.Warninglists | None = None,
    ) -> ValidateResult:
        # The batch's logical time: identical documents whenever the same window is rerun.
        ingested_at = fetched.data_interval_end or fetched.fetched_at
        builder = DocumentBuilder(
            spec.name,
            ingested_at=ingested_at,
            default_ttl=self.default_ttl or spec.default_ttl,
            written_at=fetched.fetched_at,
        )
        parse_record, build_document, now = spec.parse_record, builder.fields, fetched.fetched_at
        lists = lists or warninglists.configured()
        check, quarantining = lists.check, lists.quarantining
        reasons: Counter[str] = Counter()
        hits_per_list: Counter[str] = Counter()
        seen = SeenKeys()
        records = expired = duplicates = trimmed = unknown_tlp = flagged = 0
        with (
            JsonLinesWriter(valid_path) as valid,
            JsonLinesWriter(quarantine_path) as quarantine,
            fewer_collections(),
        ):
            for stored in fetched.pages:
                page_body = _read_page(stored, fetched.storage_conn_id)
                page = FetchedPage(page_body, stored.kind, stored.context)
                context = page.context
                for record in page_body.verified(spec.split_records(page)):
                    records += 1
                    # Each record fails alone: whatever it holds, it ends up valid, expired or
                    # quarantined, and never fails the task.
                    try:
                        observation = parse_record(record, context)
                        if observation.is_expired(now):
                            expired += 1
                            continue
                        document = build_document(observation)
                        hits = check(document["indicator_type"], document["indicator_value"])
                        if hits:
                            document["warninglists"] = list(hits)
                        line, was_trimmed = encode_document(document)
                    except Exception as error:  # quarantined with its reason
                        reason, message = _reject_reason(error)
                        reasons[reason] += 1
                        quarantine.write_line(
                            encode_entry(_quarantine_entry(spec.name, stored.uri, record, reason, message))
                        )
                        continue
                    if not seen.add(_id_key(document["id"])):
                        duplicates += 1
                        continue
                    if hits:
                        hits_per_list.update(hits)
                        quarantined_by = quarantining(hits)
                        if quarantined_by:
                            reasons[WARNINGLIST_REASON] += 1
                            entry = _quarantine_entry(
                                spec.name, stored.uri, record, WARNINGLIST_REASON, _listed(document, hits)
                            )
                            entry["warninglists"] = list(quarantined_by)
                            quarantine.write_line(encode_entry(entry))
                            continue
                        flagged += 1
                    trimmed += was_trimmed
                    if observation.tlp is None:  # as an unknown label leaves it
                        unknown_tlp += observation.has_unknown_tlp
                    valid.write_line(line)
        rejected = quarantine.count
        failed = rejected - reasons[WARNINGLIST_REASON]  # quarantined by policy: not a bad record
        return ValidateResult(
            source=spec.name,
            run_id=fetched.run_id,
            valid_uri=str(valid_path),
            quarantine_uri=str(quarantine_path),
            storage_conn_id=fetched.storage_conn_id,
            ingested_at=ingested_at,
            records=records,
            valid=valid.count,
            rejected=rejected,
            expired=expired,
            duplicates=duplicates,
            trimmed=trimmed,
            unknown_tlp=unknown_tlp,
            reject_ratio=round(failed / records, 6) if records else 0.0,
            reasons=dict(reasons),
            warninglisted=flagged,
            warninglist_hits=dict(sorted(hits_per_list.items())),
        )


def _read_page(stored: StoredPage, conn_id: str | None) -> StoredPageReader:
    """A raw page exactly as fetched, as a stream; a page changed since fetch fails the task."""
    return StoredPageReader(open_path(stored.uri, conn_id).open("rb"), stored)  # type: ignore[no-untyped-call]


class StoredPageReader(ChunkReader):
    """Streams a stored raw page while hashing it; at its end the digest must match fetch's.

    The page is read once, incrementally (never held whole). A mismatch raises
    :class:`BatchIntegrityError` when the reader reaches the end, or when
    :meth:`verified` finishes the page.
    """

    def __init__(self, handle: IO[bytes], stored: StoredPage) -> None:
        super().__init__()
        self._handle = handle
        self._stored = stored
        self._digest = hashlib.sha256()
        self._checked = False

    def read_chunk(self, size: int) -> bytes:
        data = self._handle.read(size) if not self._checked else b""
        if data:
            self._digest.update(data)
        else:
            self._check()
        return data

    def close(self) -> None:
        self._handle.close()
        super().close()

    def verified(self, records: Iterable[_T]) -> Iterator[_T]:
        """``records``, then a check of the whole page's digest (reading what the parser left)."""
        yield from records
        while self.read_chunk(1 << 16):
            pass
        self.close()

    def _check(self) -> None:
        if self._checked:
            return
        self._checked = True
        if self._digest.hexdigest() != self._stored.sha256:
            raise BatchIntegrityError(
                f"{self._stored.uri} changed since it was fetched (SHA-256 mismatch); rerun fetch."
            )


def _listed(document: Mapping[str, Any], hits: Sequence[str]) -> str:
    """The quarantine message of a value on a warninglist the policy quarantines."""
    return (
        f"{document['indicator_type']} {document['indicator_value'][:200]} is on the MISP "
        f"warninglist(s) {', '.join(hits)}"
    )


def _quarantine_entry(
    source: str, page_uri: str, record: Mapping[str, Any], reason: str, message: str
) -> dict[str, Any]:
    return {"source": source, "reason": reason, "message": message, "page": page_uri, "record": record}
