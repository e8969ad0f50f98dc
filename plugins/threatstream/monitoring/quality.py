"""Data-quality checks of a run that succeeded but looks wrong; each gives an :class:`Alert`.

* ``reject_ratio_high``: more records quarantined than ``[threatstream] warn_reject_ratio``
  (default 10 %), but not enough to fail the run (``max_reject_ratio``).
* ``zero_records``: the feed returned nothing although its recent runs usually returned at
  least ``[threatstream] zero_records_min_usual`` records (default 10). The recent counts
  are kept in the Airflow Variable ``threatstream_<source>_record_counts`` (last 10 runs).
* ``warninglist_hits``: more of the run's records than ``[threatstream] warn_warninglist_ratio``
  (default 5 %) are on MISP warninglists (flagged or quarantined), with the count per list:
  the feed reports resolvers, top domains or empty-file hashes as indicators.
* ``quota_low``: the feed's ``X-RateLimit-Remaining`` (recorded by fetch in
  ``source_metadata``) is at or below ``[threatstream] quota_warn_fraction`` (default 20 %)
  of ``X-RateLimit-Limit``, or at most 1 when the limit is unknown.

The checks themselves are pure functions; :func:`record_history` reads and updates the
Variable.
"""

from __future__ import annotations

import json
import logging
import statistics
from collections.abc import Mapping, Sequence
from typing import Any

from threatstream.monitoring.alerts import Alert
from threatstream.naming import airflow_name
from threatstream.records.results import FetchResult, ValidateResult
from threatstream.rules import warninglists
from threatstream.settings import settings

log = logging.getLogger(__name__)

#: How many recent record counts are remembered per source.
HISTORY_LENGTH = 10


def reject_ratio_alert(
    result: ValidateResult, max_ratio: float, warn_ratio: float | None = None
) -> Alert | None:
    """An alert when the reject ratio is above the warning level (and at most ``max_ratio``)."""
    warn = settings().warn_reject_ratio if warn_ratio is None else warn_ratio
    if result.records == 0 or result.reject_ratio <= warn or result.reject_ratio > max_ratio:
        return None
    return Alert(
        event="reject_ratio_high",
        severity="warning",
        source=result.source,
        run_id=result.run_id,
        message=(
            f"{result.rejected} of {result.records} records quarantined ({result.reject_ratio:.1%}), "
            f"above the warning level {warn:.1%} (the run fails above {max_ratio:.1%})."
        ),
        details={
            "rejected": result.rejected,
            "records": result.records,
            "reject_ratio": round(result.reject_ratio, 4),
            "warn_reject_ratio": warn,
            "max_reject_ratio": max_ratio,
            "reasons": ", ".join(f"{k}: {v}" for k, v in sorted(result.reasons.items())),
            "quarantine": result.quarantine_uri,
        },
    )


def zero_records_alert(
    source: str,
    run_id: str,
    records: int,
    history: Sequence[int],
    min_usual: float | None = None,
    *,
    up_to_date: bool = False,
) -> Alert | None:
    """An alert when a feed that usually returns many records returned none, unless the feed
    itself said nothing changed since the last run (``up_to_date``)."""
    usual_floor = settings().zero_records_min_usual if min_usual is None else min_usual
    if records > 0 or up_to_date or not history:
        return None
    usual = statistics.median(history)
    if usual < usual_floor:
        return None
    return Alert(
        event="zero_records",
        severity="warning",
        source=source,
        run_id=run_id,
        message=(
            f"The feed returned 0 records; its last {len(history)} runs returned a median of "
            f"{usual:g}. Check the feed's status and the connection's key and plan."
        ),
        details={
            "records": records,
            "recent_median": usual,
            "zero_records_min_usual": usual_floor,
            "recent_counts": list(history),
        },
    )


def unknown_tlp_alert(result: ValidateResult) -> Alert | None:
    """An alert when valid records carried a TLP label the vocabulary does not know.

    Such records are kept (their indicators matter) with the source's default TLP, which may
    share them wider than the feed meant: someone should map the new label.
    """
    if result.unknown_tlp == 0:
        return None
    return Alert(
        event="unknown_tlp",
        severity="warning",
        source=result.source,
        run_id=result.run_id,
        message=(
            f"{result.unknown_tlp} of {result.valid} valid records carried a TLP label that is not "
            "TLP 1.0 or 2.0; they were stored with the default TLP. Check the feed's marking scheme."
        ),
        details={"unknown_tlp": result.unknown_tlp, "valid": result.valid, "threshold": "any (more than 0)"},
    )


def warninglist_alert(result: ValidateResult, warn_ratio: float | None = None) -> Alert | None:
    """An alert when a large share of the run's records is on MISP warninglists."""
    warn = settings().warn_warninglist_ratio if warn_ratio is None else warn_ratio
    listed = result.warninglisted + result.reasons.get(warninglists.QUARANTINE_REASON, 0)
    if result.records == 0 or listed == 0 or listed / result.records <= warn:
        return None
    per_list = ", ".join(f"{name}: {count}" for name, count in sorted(result.warninglist_hits.items()))
    return Alert(
        event="warninglist_hits",
        severity="warning",
        source=result.source,
        run_id=result.run_id,
        message=(
            f"{listed} of {result.records} records ({listed / result.records:.1%}) are on MISP "
            f"warninglists ({per_list}), above the warning level {warn:.1%}: "
            f"{result.warninglisted} flagged, {listed - result.warninglisted} quarantined."
        ),
        details={
            "listed": listed,
            "records": result.records,
            "flagged": result.warninglisted,
            "quarantined": listed - result.warninglisted,
            "warn_warninglist_ratio": warn,
            "lists": per_list,
        },
    )


def quota_alert(result: FetchResult, warn_fraction: float | None = None) -> Alert | None:
    """An alert when the feed's remaining request quota is nearly used up."""
    metadata: Mapping[str, Any] = result.source_metadata
    remaining = _as_int(metadata.get("rate_limit_remaining"))
    if remaining is None:
        return None
    limit = _as_int(metadata.get("rate_limit_limit"))
    fraction = settings().quota_warn_fraction if warn_fraction is None else warn_fraction
    threshold = max(1.0, limit * fraction) if limit else 1.0
    if remaining > threshold:
        return None
    return Alert(
        event="quota_low",
        severity="warning",
        source=result.source,
        run_id=result.run_id,
        message=(
            f"Only {remaining} requests left of the feed's quota"
            + (f" of {limit}" if limit else "")
            + "; further runs (retries, manual triggers, backfills) may be refused with 429 until it resets."
        ),
        details={
            key: value
            for key, value in {
                "rate_limit_remaining": remaining,
                "rate_limit_limit": limit,
                "threshold": f"<= {threshold:g}"
                + (f" ({fraction:.0%} of {limit})" if limit else " (limit unknown)"),
                "rate_limit_reset": metadata.get("rate_limit_reset") or None,
            }.items()
            if value is not None
        },
    )


def _as_int(value: Any) -> int | None:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None


def history_key(source: str) -> str:
    """The Airflow Variable that keeps ``source``'s recent record counts."""
    return airflow_name(source, "record_counts")


def record_history(source: str, records: int) -> list[int]:
    """The recent record counts of ``source`` (before this run); then remembers ``records``.

    The Variable holds ``{"source": ..., "record_counts": [...]}``: the task runner registers
    every Variable value it reads with the secrets masker, which warns about any value shorter
    than five characters, so a bare list such as ``[30]`` would log a spurious warning.
    """
    from airflow.sdk import Variable

    try:
        history = decode_history(Variable.get(history_key(source), default=""))
    except (ValueError, TypeError):
        history = []
    try:
        Variable.set(
            history_key(source),
            encode_history(source, [*history, records]),
            description=f"ThreatStream: the last {HISTORY_LENGTH} record counts of {source}, for the "
            "zero-records alert",
        )
    except Exception as err:  # the history only feeds an alert: it must never fail the batch
        log.warning("ThreatStream: cannot keep the record-count history of %s (%s)", source, err)
    return history


def encode_history(source: str, counts: Sequence[int]) -> str:
    """The Variable value keeping ``source``'s last :data:`HISTORY_LENGTH` record counts."""
    return json.dumps({"source": source, "record_counts": list(counts)[-HISTORY_LENGTH:]})


def decode_history(raw: str) -> list[int]:
    """The record counts in a history Variable's value (also the older bare-list form)."""
    if not raw:
        return []
    stored = json.loads(raw)
    counts = stored.get("record_counts", []) if isinstance(stored, dict) else stored
    return [int(count) for count in counts][-HISTORY_LENGTH:]


def report_fetched(result: FetchResult) -> list[Alert]:
    """Send the alerts about a fetched batch (quota); returns what was sent."""
    return _send([quota_alert(result)])


def report_validated(result: ValidateResult, max_ratio: float, *, up_to_date: bool = False) -> list[Alert]:
    """Send the alerts about a validated batch (reject ratio, zero records unless the feed
    was ``up_to_date``, unknown TLP, warninglists); returns what was sent."""
    history = record_history(result.source, result.records)
    return _send(
        [
            reject_ratio_alert(result, max_ratio),
            zero_records_alert(result.source, result.run_id, result.records, history, up_to_date=up_to_date),
            unknown_tlp_alert(result),
            warninglist_alert(result),
        ]
    )


def _send(alerts: Sequence[Alert | None]) -> list[Alert]:
    """Send each alert, named after the running task (DAG, run, task, try, UI links)."""
    from threatstream.monitoring.alerts import send_alert
    from threatstream.monitoring.context import with_task

    sent = [with_task(alert) for alert in alerts if alert is not None]
    for alert in sent:
        send_alert(alert)
    return sent
