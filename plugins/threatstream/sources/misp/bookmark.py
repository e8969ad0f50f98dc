"""The bookmark of a MISP feed: the state stored by the last run whose upsert succeeded.

A run stores its state (event uuid -> manifest ``timestamp`` of every event fetched so far)
as the last raw page of its batch. That state counts only once the same run's ``upsert``
returned: the next run asks Airflow for the latest prior run (by logical date) with an
``upsert`` result, and reads the state page named by that run's ``fetch`` result. A failed
or dry run leaves no upsert result, so it moves nothing; a state deleted by batch retention
means every listed event is fetched again (idempotent upserts, bounded per run).
"""

from __future__ import annotations

import json
import logging
from typing import Any

from threatstream.batches.storage import open_path
from threatstream.sources.misp.events import STATE_PAGE
from threatstream.sources.misp.manifest import read_state

log = logging.getLogger(__name__)

#: The factory's task ids (``threatstream.pipelines.sources``).
FETCH_TASK = "fetch"
UPSERT_TASK = "upsert"


def committed_state() -> dict[str, int] | None:
    """The bookmark, or None: outside a task, before the first successful run, or when the
    state page is gone or unreadable (each logged)."""
    try:
        from airflow.sdk import get_current_context

        context: Any = get_current_context()
    except RuntimeError:
        return None
    if context.get("prev_start_date_success") is None:
        log.info("No earlier run of this feed succeeded: every listed event is fetched.")
        return None
    ti = context["ti"]
    upserted = ti.xcom_pull(task_ids=UPSERT_TASK, include_prior_dates=True, map_indexes=-1)
    run_id = upserted.get("run_id") if isinstance(upserted, dict) else None
    if not run_id or run_id == context.get("run_id"):
        log.info("No earlier run of this feed wrote to the store: every listed event is fetched.")
        return None
    fetched = ti.xcom_pull(task_ids=FETCH_TASK, run_id=run_id, map_indexes=-1)
    pages = fetched.get("pages") if isinstance(fetched, dict) else None
    state_pages = [p for p in pages or () if isinstance(p, dict) and p.get("kind") == STATE_PAGE]
    if not state_pages:
        log.warning("Run %s stored no MISP state: every listed event is fetched.", run_id)
        return None
    uri = str(state_pages[-1]["uri"])
    try:
        with open_path(uri, fetched.get("storage_conn_id")).open("rb") as file:  # type: ignore[no-untyped-call]
            state = read_state(json.loads(file.read()))
    except (OSError, ValueError) as err:
        log.warning(
            "The state of run %s (%s) cannot be read (%s): every listed event is fetched.", run_id, uri, err
        )
        return None
    if state is None:
        log.warning("%s is no MISP state document: every listed event is fetched.", uri)
        return None
    log.info("Bookmark: the state of run %s (%d events), %s.", run_id, len(state), uri)
    return state
