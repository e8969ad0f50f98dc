"""What an alert says about where it came from: redacted error lines, UI links, durations.

Every alert names its DAG, run and (when a task raised it) task and try, and links to the run
and the task's log in the Airflow UI, built from ``[api] base_url`` the way Airflow 3 builds
``TaskInstance.log_url``. Error text is passed through Airflow's secrets masker and the
package's own redaction before it is logged or sent.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from threatstream.monitoring.alerts import Alert

#: The longest error line an alert carries.
MAX_ERROR_LENGTH = 300

#: The password in a URL (``scheme://user:password@host``), whatever the masker knows.
_URL_PASSWORD = re.compile(r"(?P<prefix>[A-Za-z][A-Za-z0-9+.-]*://[^/\s:@]*:)[^/\s@]+@")


def redact(text: str) -> str:
    """``text`` with every secret Airflow's masker knows, and any URL password, replaced by ``***``.

    The masker knows every connection password and sensitive extra a task (or the DAG
    processor, or the triggerer) read, and what the package's hooks registered
    (:mod:`threatstream.feeds.credentials`). Task logs are masked by Airflow already; a
    webhook body is not, so alert text goes through this before it is logged or sent.
    """
    masked = _URL_PASSWORD.sub(r"\g<prefix>***@", text)
    try:
        from airflow.sdk._shared.secrets_masker import redact as airflow_redact
    except ImportError:  # pragma: no cover - Airflow 3.0/3.1 layout
        try:
            from airflow.sdk.execution_time.secrets_masker import (  # type: ignore[attr-defined,no-redef,unused-ignore]
                redact as airflow_redact,
            )
        except ImportError:
            return masked
    return str(airflow_redact(masked))


def error_line(error: BaseException | str | None) -> str | None:
    """``"<ErrorClass>: <first line of its message>"``, redacted and cut; None without an error."""
    if error is None or error == "":
        return None
    if isinstance(error, BaseException):
        lines = str(error).strip().splitlines()
        text = f"{type(error).__name__}: {lines[0]}" if lines else type(error).__name__
    else:
        text = str(error).strip().splitlines()[0]
    text = redact(text)  # redacted whole, then cut: no partial secret survives
    return text if len(text) <= MAX_ERROR_LENGTH else text[: MAX_ERROR_LENGTH - 1] + "…"


def ui_base_url() -> str:
    """``[api] base_url``, the root of every UI link (Airflow's own default when unset)."""
    try:
        from airflow.sdk.configuration import conf
    except ImportError:  # pragma: no cover - Airflow 3.0
        from airflow.configuration import conf
    base = conf.get("api", "base_url", fallback=None) or "http://localhost:8080/"
    return str(base).rstrip("/")


def ui_links(
    dag_id: str | None,
    run_id: str | None,
    task_id: str | None = None,
    *,
    try_number: int | None = None,
    map_index: int | None = None,
) -> dict[str, str]:
    """Links to the run and to the task's log in the Airflow 3 UI.

    The same routes as ``TaskInstance.log_url`` in Airflow 3.3:
    ``/dags/{dag_id}/runs/{run_id}`` and ``/dags/{dag_id}/runs/{run_id}/tasks/{task_id}``
    (``/mapped/{map_index}`` for a mapped task, ``?try_number=`` for one try's log).
    """
    if not dag_id or not run_id:
        return {}
    run_url = f"{ui_base_url()}/dags/{quote(dag_id)}/runs/{quote(run_id)}"
    links = {"run": run_url}
    if task_id:
        mapped = f"/mapped/{map_index}" if map_index is not None and map_index >= 0 else ""
        try_query = f"?try_number={try_number}" if try_number else ""
        links["task_log"] = f"{run_url}/tasks/{quote(task_id)}{mapped}{try_query}"
    return links


def as_datetime(value: Any) -> datetime | None:
    """A datetime from a datetime or an ISO string (the triggerer's context is JSON)."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, str) and value:
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return None


def describe_seconds(seconds: float) -> str:
    """``"4 min 12 s"``, ``"1 h 3 min"``, ``"9 s"``: a duration for people."""
    total = round(abs(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes} min"
    if minutes:
        return f"{minutes} min {secs} s"
    return f"{secs} s"


def context_value(context: Mapping[str, Any], key: str, attribute: str) -> Any:
    """``context[key].attribute`` whether the value is an object (tasks) or a dict (triggerer)."""
    value = context.get(key)
    if isinstance(value, Mapping):
        return value.get(attribute)
    return getattr(value, attribute, None)


def int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def task_context() -> Mapping[str, Any] | None:
    """The running task's context, or None outside a task."""
    try:
        from airflow.sdk import get_current_context

        return get_current_context()
    except Exception:  # outside a task (tests, the triggerer): no context
        return None


def with_task(alert: Alert, context: Mapping[str, Any] | None = None) -> Alert:
    """``alert`` with the running task's DAG, run, task, try and UI links filled in."""
    context = task_context() if context is None else context
    if not context:
        return alert
    ti = context.get("ti")
    dag_id = alert.dag_id or getattr(ti, "dag_id", None)
    run_id = alert.run_id or getattr(ti, "run_id", None)
    task_id = alert.task_id or getattr(ti, "task_id", None)
    try_number = alert.try_number or int_or_none(getattr(ti, "try_number", None))
    map_index = int_or_none(getattr(ti, "map_index", None))
    return replace(
        alert,
        dag_id=dag_id,
        run_id=run_id,
        task_id=task_id,
        try_number=try_number,
        links=alert.links or ui_links(dag_id, run_id, task_id, try_number=try_number, map_index=map_index),
    )
