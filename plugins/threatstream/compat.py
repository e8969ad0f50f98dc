"""Version-tolerant Airflow imports: the one module that knows what moved between 3.0 and 3.3.

Managed platforms lag behind Airflow releases (AWS MWAA started Airflow 3 at 3.0.6, Astro
Runtime ships one line per minor version), so the package imports every name that moved
from here. A feature the running Airflow lacks is reported once, with a logged notice,
instead of failing the import of every DAG file.
"""

from __future__ import annotations

import inspect
import logging
import re
from functools import cache
from typing import TYPE_CHECKING

from airflow import __version__ as AIRFLOW_VERSION

log = logging.getLogger(__name__)

if TYPE_CHECKING:  # type-check against the newest layout (the locked Airflow)
    from airflow.sdk import CronDataIntervalTimetable, CronTriggerTimetable
    from airflow.sdk.definitions.callback import AsyncCallback, SyncCallback
    from airflow.sdk.definitions.deadline import DeadlineAlert, DeadlineReference
    from airflow.sdk.exceptions import (
        AirflowException,
        AirflowFailException,
        AirflowNotFoundException,
        AirflowSkipException,
    )
else:
    try:  # Airflow >= 3.2
        from airflow.sdk import CronDataIntervalTimetable, CronTriggerTimetable
    except ImportError:  # Airflow 3.0 / 3.1
        from airflow.timetables.interval import CronDataIntervalTimetable
        from airflow.timetables.trigger import CronTriggerTimetable

    try:  # Airflow >= 3.2
        from airflow.sdk.exceptions import (
            AirflowException,
            AirflowFailException,
            AirflowNotFoundException,
            AirflowSkipException,
        )
    except ImportError:  # Airflow 3.0 / 3.1
        from airflow.exceptions import (
            AirflowException,
            AirflowFailException,
            AirflowNotFoundException,
            AirflowSkipException,
        )

    try:  # Airflow >= 3.2 exports them from the SDK's top level
        from airflow.sdk import AsyncCallback, DeadlineAlert, DeadlineReference, SyncCallback
    except ImportError:
        try:  # Airflow 3.1: experimental, only under the definitions module
            from airflow.sdk.definitions.deadline import (
                AsyncCallback,
                DeadlineAlert,
                DeadlineReference,
                SyncCallback,
            )
        except ImportError:  # Airflow 3.0: no Deadline Alerts at all
            AsyncCallback = DeadlineAlert = DeadlineReference = SyncCallback = None

#: Whether this Airflow supports Deadline Alerts (3.1 and later).
HAS_DEADLINES: bool = DeadlineAlert is not None


def deadline_alert_options(name: str) -> dict[str, str]:
    """Keyword arguments of ``DeadlineAlert`` that not every version takes (``name``: 3.2+)."""
    if DeadlineAlert is None:
        return {}
    return {"name": name} if "name" in inspect.signature(DeadlineAlert).parameters else {}


def airflow_version() -> tuple[int, int]:
    """The running Airflow's (major, minor) version."""
    major, minor = (re.match(r"\d*", part) for part in AIRFLOW_VERSION.split(".")[:2])
    return int(major.group() or 0) if major else 0, int(minor.group() or 0) if minor else 0


#: ``retry_exponential_backoff`` for delays that double on every retry, in the form this
#: Airflow accepts: a multiplier since 3.2 (where ``True`` would mean a factor of 1, no
#: backoff), a boolean before (``True`` doubles; a float is refused when the DAG is parsed).
DOUBLING_RETRY_BACKOFF: float | bool = 2.0 if airflow_version() >= (3, 2) else True


@cache
def notice_missing(feature: str, needs: str) -> None:
    """Log, once per process, that ``feature`` is skipped because it needs Airflow ``needs``."""
    log.warning(
        "ThreatStream: %s needs Airflow %s; this is Airflow %s, so it is skipped.",
        feature,
        needs,
        AIRFLOW_VERSION,
    )


def mask_secret(secret: str) -> None:
    """Register ``secret`` with Airflow's secrets masker (task logs, rendered templates).

    Imported on first use: only tasks that hold a credential need the masker.
    """
    try:  # Airflow 3: the Task SDK's masker
        from airflow.sdk.log import mask_secret as register
    except ImportError:  # pragma: no cover - a layout without it: ThreatStream still redacts
        notice_missing("registering credentials with the secrets masker", "3.0 (airflow.sdk.log)")
        return
    register(secret)


__all__ = [
    "AIRFLOW_VERSION",
    "DOUBLING_RETRY_BACKOFF",
    "HAS_DEADLINES",
    "AirflowException",
    "AirflowFailException",
    "AirflowNotFoundException",
    "AirflowSkipException",
    "AsyncCallback",
    "CronDataIntervalTimetable",
    "CronTriggerTimetable",
    "DeadlineAlert",
    "DeadlineReference",
    "SyncCallback",
    "airflow_version",
    "deadline_alert_options",
    "mask_secret",
    "notice_missing",
]
