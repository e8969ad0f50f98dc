"""Lookups for the API: the CLI's canonicalisation and point reads, one store client reused.

Every value goes through :func:`threatstream.cli.canonical_candidates` (refanging and
canonicalising exactly as ``threatstream lookup`` and the pipeline do). A single lookup
point-reads per candidate type, most likely first. A bulk lookup reads every candidate of
every value at once with the SDK's read-many (``ContainerProxy.read_items``: one query per
partition key range and 1,000 ids, :data:`BULK_CONCURRENCY` in flight), an order of
magnitude faster than as many point reads at that concurrency (``make bench``), and answers
one result per input in input order, each the first candidate found; an invalid value or a
store failure is that item's result and never fails the batch. A bulk item's
``request_charge`` is its share of the read-many's charge (by the candidates it read).

Nothing here imports the Azure SDK at module load.
"""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from threatstream.canonical.errors import InvalidIndicator
from threatstream.cli import bounded_hook, canonical_candidates, one_line, read_first, store_error_message
from threatstream.naming import COSMOS_CONN_ID

if TYPE_CHECKING:
    from threatstream.store.merged import MergedViewHook

#: The most values one bulk request may hold.
MAX_BULK_VALUES = 1000
#: Point reads in flight at once during a bulk lookup (the SDK's connection pool holds 10).
BULK_CONCURRENCY = 10


class StoreUnavailable(Exception):
    """The store could not be asked; the message is safe to show (no secret)."""


class Lookups:
    """Point reads of the merged view through one bounded-timeout client, created on first use."""

    def __init__(self, cosmos_conn_id: str | None = None, container_name: str | None = None) -> None:
        self.conn_id = cosmos_conn_id or COSMOS_CONN_ID
        self._container_name = container_name
        self._hook: MergedViewHook | None = None
        self._lock = threading.Lock()

    def hook(self) -> MergedViewHook:
        """The merged-view hook, its client and container ready (created once, thread-safe)."""
        with self._lock:
            if self._hook is None:
                hook = bounded_hook(self.conn_id, self._container_name)
                try:
                    hook.get_container()
                except Exception as err:
                    raise StoreUnavailable(one_line(store_error_message(err, self.conn_id))) from None
                self._hook = hook
            return self._hook

    def one(self, value: str, type: str | None = None, *, now: datetime | None = None) -> dict[str, Any]:
        """The result of one lookup: ``status`` found / not_found / invalid / error.

        Found: ``record`` (the merged document without Cosmos' system properties, plus
        ``current_score``); every status but invalid: ``tried``, the ``(type, value)`` pairs read.
        """
        result: dict[str, Any] = {"query": value}
        try:
            candidates = canonical_candidates(value, type)
        except InvalidIndicator as err:
            return {**result, "status": "invalid", "reason": err.reason, "message": one_line(str(err))}
        result["tried"] = [{"type": kind.value, "value": canonical} for kind, canonical in candidates]
        try:
            found = read_first(self.hook(), candidates, now or datetime.now(UTC))
        except StoreUnavailable as err:
            return {**result, "status": "error", "message": str(err)}
        except Exception as err:
            return {**result, "status": "error", "message": one_line(store_error_message(err, self.conn_id))}
        result["tried"] = [{"type": kind, "value": canonical} for kind, canonical in found.tried]
        if found.record is None:
            return {**result, "status": "not_found", "request_charge": found.request_charge}
        return {**result, "status": "found", "record": found.record, "request_charge": found.request_charge}

    def ranked(
        self, order: str, limit: int, continuation: str | None = None, *, now: datetime | None = None
    ) -> dict[str, Any]:
        """One page of the merged view's unexpired records, by ``order`` (``score``: highest
        stored score first; ``recent``: most recently changed first), as lookups show them.

        :raises StoreUnavailable: the store cannot be asked.
        :raises ValueError: ``continuation`` is not a token the store issued.
        """
        from azure.cosmos.exceptions import CosmosHttpResponseError

        from threatstream.merged.merge import public_record

        if continuation is not None and not _is_store_token(continuation):
            raise ValueError("the continuation token is not valid for this query")
        moment = now or datetime.now(UTC)
        hook = self.hook()
        try:
            page = hook.ranked(order, limit, continuation, now=moment)
        except CosmosHttpResponseError as err:
            if err.status_code == 400 and continuation:
                raise ValueError("the continuation token is not valid for this query") from None
            raise StoreUnavailable(one_line(store_error_message(err, self.conn_id))) from None
        except (ValueError, TypeError, KeyError) as err:
            if continuation:
                raise ValueError("the continuation token is not valid for this query") from None
            raise StoreUnavailable(one_line(store_error_message(err, self.conn_id))) from None
        except Exception as err:
            raise StoreUnavailable(one_line(store_error_message(err, self.conn_id))) from None
        return {
            "order": order,
            "items": [public_record(document, moment, hook.policy) for document in page.documents],
            "continuation": page.continuation,
            "request_charge": page.request_charge,
        }

    def many(
        self, items: list[tuple[str, str | None]], *, now: datetime | None = None
    ) -> list[dict[str, Any]]:
        """One result per ``(value, type)``, in input order, shaped as :meth:`one`'s; every
        candidate of every value read with one read-many."""
        from threatstream.canonical.identity import merged_keys
        from threatstream.merged.merge import public_record

        moment = now or datetime.now(UTC)
        results: list[dict[str, Any]] = []
        planned: list[tuple[dict[str, Any], list[tuple[str, str, tuple[str, str]]]]] = []
        keys: dict[tuple[str, str], None] = {}
        for value, type in items:
            result: dict[str, Any] = {"query": value}
            results.append(result)
            try:
                candidates = canonical_candidates(value, type)
            except InvalidIndicator as err:
                result.update(status="invalid", reason=err.reason, message=one_line(str(err)))
                continue
            reads = [(kind.value, canonical, merged_keys(kind, canonical)) for kind, canonical in candidates]
            result["tried"] = [{"type": kind, "value": canonical} for kind, canonical, _ in reads]
            planned.append((result, reads))
            keys.update(dict.fromkeys(key for _, _, key in reads))
        if not planned:
            return results
        try:
            hook = self.hook()
            documents, charge = self._read_many(hook, list(keys))
        except StoreUnavailable as err:
            failure = str(err)
        except Exception as err:
            failure = one_line(store_error_message(err, self.conn_id))
        else:
            per_key = charge / len(keys)
            for result, reads in planned:
                tried = reads
                for position, (_, _, key) in enumerate(reads):
                    if key in documents:
                        tried = reads[: position + 1]
                        result.update(
                            status="found", record=public_record(documents[key], moment, hook.policy)
                        )
                        break
                else:
                    result["status"] = "not_found"
                result["tried"] = [{"type": kind, "value": canonical} for kind, canonical, _ in tried]
                result["request_charge"] = round(per_key * len(reads), 4)
            return [_ordered(result) for result in results]
        for result, _ in planned:
            result.update(status="error", message=failure)
        return [_ordered(result) for result in results]

    @staticmethod
    def _read_many(
        hook: MergedViewHook, keys: list[tuple[str, str]]
    ) -> tuple[dict[tuple[str, str], dict[str, Any]], float]:
        """The merged documents of ``keys`` (``(id, partition key)``) found, and the RU charge."""
        from azure.cosmos.exceptions import CosmosHttpResponseError

        container = hook.get_container()
        try:
            found = container.read_items(keys, max_concurrency=BULK_CONCURRENCY)
        except CosmosHttpResponseError as err:
            if err.status_code in (401, 403):
                raise hook._classify(err, "reading merged documents") from None
            raise
        documents = {(document["id"], document["partition_key"]): document for document in found}
        return documents, request_charge(found.get_response_headers())


#: The order of a result's fields, as :meth:`Lookups.one` builds them.
_FIELDS = ("query", "tried", "status", "reason", "message", "record", "request_charge")


def _ordered(result: dict[str, Any]) -> dict[str, Any]:
    return {name: result[name] for name in _FIELDS if name in result}


def request_charge(headers: Any) -> float:
    """The RU charge in a response's headers (0 when absent or unreadable)."""
    try:
        return float((headers or {}).get("x-ms-request-charge", 0.0))
    except (TypeError, ValueError):
        return 0.0


def _is_store_token(continuation: str) -> bool:
    """Whether ``continuation`` has the shape of the SDK's query continuation (a JSON object
    with a ``token``); anything else would silently restart the query at its first page."""
    try:
        token = json.loads(continuation)
    except ValueError:
        return False
    return isinstance(token, dict) and isinstance(token.get("token"), str)
