"""``export``: the merged view's changes in a time window, as one STIX 2.1 bundle."""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from typing import IO, Any

from airflow.sdk import BaseOperator, Context

from threatstream.compat import AirflowFailException
from threatstream.merged import format_time, parse_time
from threatstream.operators.upsert import COSMOS_CONN_ID
from threatstream.stix import STIX_NAMESPACE, identity, tlp_marking, to_stix
from threatstream.storage import batch_prefix


class _CountingWriter:
    """Writes text to a file while counting bytes and hashing them."""

    def __init__(self, handle: IO[str]) -> None:
        self.handle = handle
        self.bytes = 0
        self.sha256 = hashlib.sha256()

    def write(self, text: str) -> None:
        data = text.encode("utf-8")
        self.bytes += len(data)
        self.sha256.update(data)
        self.handle.write(text)


def _as_time(value: str | datetime, name: str) -> datetime:
    try:
        parsed = parse_time(value) if isinstance(value, str) else parse_time(value.isoformat())
    except ValueError:
        parsed = None
    if parsed is None:
        raise AirflowFailException(f"{name} must be an ISO 8601 time, got {value!r}")
    return parsed


class StixExportOperator(BaseOperator):
    """Export the merged documents changed in ``[since, until)`` as a STIX 2.1 bundle.

    The bundle is streamed to ``<storage_base>/stix_export/<run id>/bundle.json``: one
    query page of merged documents at a time, one object written at a time, so memory stays
    flat however many indicators changed. It holds the ThreatStream ``identity``, one
    ``indicator`` (or ``vulnerability``) per exportable merged document and the TLP 2.0
    ``marking-definition`` objects they reference.

    :param since: start of the window (ISO 8601, templated).
    :param until: end of the window, exclusive (ISO 8601, templated).
    :param cosmos_conn_id: the store connection.
    :param container_name: the merged container (default ``[threatstream] merged_container``).
    :param storage_base: where bundles are written (default ``[threatstream] storage_base``).
    """

    template_fields: Sequence[str] = ("since", "until", "cosmos_conn_id", "container_name", "storage_base")
    ui_color = "#f3eafb"

    def __init__(
        self,
        *,
        since: str | datetime,
        until: str | datetime,
        cosmos_conn_id: str = COSMOS_CONN_ID,
        container_name: str | None = None,
        storage_base: str | None = None,
        storage_conn_id: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.since = since
        self.until = until
        self.cosmos_conn_id = cosmos_conn_id
        self.container_name = container_name
        self.storage_base = storage_base
        self.storage_conn_id = storage_conn_id

    def execute(self, context: Context) -> dict[str, Any]:
        since, until = _as_time(self.since, "since"), _as_time(self.until, "until")
        if since >= until:
            raise AirflowFailException(f"since ({since}) must be before until ({until})")
        from threatstream.hooks.merged_store import MergedViewHook

        hook = MergedViewHook(self.cosmos_conn_id, container_name=self.container_name)
        path = batch_prefix("stix_export", context["run_id"], self.storage_base, self.storage_conn_id)
        path = path / "bundle.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        started = time.monotonic()
        counts: Counter[str] = Counter()
        markings: set[str] = set()
        bundle_id = f"bundle--{uuid.uuid5(STIX_NAMESPACE, f'{format_time(since)}/{format_time(until)}')}"
        with path.open("w", encoding="utf-8") as handle:  # type: ignore[no-untyped-call]
            out = _CountingWriter(handle)
            out.write(f'{{"type": "bundle", "id": "{bundle_id}", "objects": [\n')
            out.write(json.dumps(identity()))
            for document in hook.changed_between(since, until):
                counts["documents"] += 1
                stix_object = to_stix(document, until)
                if stix_object is None:
                    counts[f"skipped:{document['indicator_type']}"] += 1
                    continue
                counts[stix_object["type"]] += 1
                if document.get("tlp"):
                    markings.add(str(document["tlp"]))
                out.write(",\n" + json.dumps(stix_object, ensure_ascii=False))
            for label in sorted(markings):
                out.write(",\n" + json.dumps(tlp_marking(label)))
            out.write("\n]}\n")
        result = {
            "uri": str(path),
            "since": format_time(since),
            "until": format_time(until),
            "documents": counts.pop("documents", 0),
            "indicators": counts.pop("indicator", 0),
            "vulnerabilities": counts.pop("vulnerability", 0),
            "markings": len(markings),
            "skipped": {key.removeprefix("skipped:"): n for key, n in sorted(counts.items())},
            "bytes": out.bytes,
            "sha256": out.sha256.hexdigest(),
            "duration_seconds": round(time.monotonic() - started, 3),
        }
        self.log.info("STIX 2.1 bundle of %s..%s: %s", result["since"], result["until"], result)
        return result
