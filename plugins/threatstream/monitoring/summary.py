"""The run summary: one structured log line per run, also carried in the Asset event's extra.

``upsert`` (the last task) logs ``ThreatStream run summary {json}`` with the counts of every
stage; the same counts go into the ``summary`` key of the source Asset's event extra, which
the Airflow UI shows on the run's and the asset's "Asset Events" without opening XCom.

Two times, measured separately (:class:`RunTiming`): ``work_seconds``, the sum of the task
instances' durations (each task's latest try; ``upsert``'s own try up to the summary), which
leaves out the time a run waited (in the queue, for a retry, or between a failure and the
clear that reran it); and ``wall_seconds``, from the run's start to the summary. Clearing a
finished run restarts its clock (Airflow sets the run's ``start_date`` anew), so after a
clear the wall time counts this attempt only, while the work time still counts the tasks
whose results it reused (``clear_number`` says the run was cleared).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from threatstream.records.results import FetchResult, UpsertResult, ValidateResult


@dataclass(frozen=True)
class RunTiming:
    """How long a run worked and how long it took."""

    #: The task instances' durations summed: each task's latest try, the current task to now.
    work_seconds: float
    #: From the run's start (a clear restarts it) to now.
    wall_seconds: float
    #: How often the run was cleared (0: its first attempt).
    clear_number: int = 0

    @classmethod
    def of_stages(
        cls, fetched: FetchResult, upserted: UpsertResult | None, *, now: datetime | None = None
    ) -> RunTiming:
        """The timing the stage results alone tell (no task context): fetch and upsert work.

        Without a context the run's start is unknown: the wall time then runs from the fetch.
        """
        end = now or datetime.now(UTC)
        work = fetched.duration_seconds + (upserted.duration_seconds if upserted else 0.0)
        wall = max((end - fetched.fetched_at).total_seconds(), 0.0)
        return cls(work_seconds=round(work, 3), wall_seconds=round(wall, 3))

    @classmethod
    def of_run(
        cls,
        task_durations: Iterable[float | None],
        task_start: datetime | None,
        run_start: datetime | None,
        *,
        now: datetime,
        clear_number: int = 0,
    ) -> RunTiming:
        """The timing of a run: the other tasks' durations plus this task's try so far."""
        own = (now - task_start).total_seconds() if task_start else 0.0
        work = sum(duration for duration in task_durations if duration) + max(own, 0.0)
        wall = max((now - run_start).total_seconds(), 0.0) if run_start else work
        return cls(work_seconds=round(work, 3), wall_seconds=round(wall, 3), clear_number=clear_number)

    @classmethod
    def current(
        cls,
        fetched: FetchResult,
        upserted: UpsertResult | None,
        *,
        now: datetime | None = None,
        context: Mapping[str, Any] | None = None,
    ) -> RunTiming:
        """The timing of the running task's run, from Airflow; from the stages outside a task."""
        end = now or datetime.now(UTC)
        context = _task_context() if context is None else context
        ti = context.get("ti") if context else None
        if context is None or ti is None:
            return cls.of_stages(fetched, upserted, now=end)
        durations: list[float | None]
        try:
            # Airflow >= 3.2: the run's finished task instances with their durations (latest try).
            breadcrumbs = ti.get_task_breadcrumbs(ti.dag_id, ti.run_id)
            durations = [
                _as_float(row.get("duration")) for row in breadcrumbs if row.get("task_id") != ti.task_id
            ]
        except Exception:  # older Airflow, or no execution API: fetch's own time stands in
            durations = [fetched.duration_seconds]
        dag_run = context.get("dag_run")
        return cls.of_run(
            durations,
            _aware(getattr(ti, "start_date", None)),
            _aware(getattr(dag_run, "start_date", None)),
            now=end,
            clear_number=int(getattr(dag_run, "clear_number", 0) or 0),
        )


def _task_context() -> Mapping[str, Any] | None:
    try:
        from airflow.sdk import get_current_context

        return get_current_context()
    except Exception:  # outside a task
        return None


def _as_float(value: Any) -> float | None:
    try:
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _aware(value: Any) -> datetime | None:
    if not isinstance(value, datetime):
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


@dataclass(frozen=True)
class RunSummary:
    """What one run did, stage by stage."""

    source: str
    run_id: str
    fetched: int
    valid: int
    quarantined: int
    expired: int
    duplicates: int
    unknown_tlp: int
    written: int
    failed: int
    request_units: float
    work_seconds: float
    wall_seconds: float
    clear_number: int = 0
    dry_run: bool = False
    #: Valid documents flagged as on a MISP warninglist.
    warninglisted: int = 0
    #: Indicators on each warninglist, flagged or quarantined.
    warninglist_hits: dict[str, int] = field(default_factory=dict)

    @classmethod
    def of(
        cls,
        fetched: FetchResult,
        validated: ValidateResult,
        upserted: UpsertResult | None,
        *,
        dry_run: bool = False,
        now: datetime | None = None,
        timing: RunTiming | None = None,
    ) -> RunSummary:
        """Summarise the stage results; ``timing`` defaults to the running task's run's."""
        timing = timing or RunTiming.current(fetched, upserted, now=now)
        return cls(
            source=validated.source,
            run_id=validated.run_id,
            fetched=fetched.records,
            valid=validated.valid,
            quarantined=validated.rejected,
            expired=validated.expired,
            duplicates=validated.duplicates,
            unknown_tlp=validated.unknown_tlp,
            written=upserted.written if upserted else 0,
            failed=upserted.failed if upserted else 0,
            request_units=upserted.request_charge if upserted else 0.0,
            work_seconds=timing.work_seconds,
            wall_seconds=timing.wall_seconds,
            clear_number=timing.clear_number,
            dry_run=dry_run,
            warninglisted=validated.warninglisted,
            warninglist_hits=dict(validated.warninglist_hits),
        )

    def counts(self) -> dict[str, Any]:
        """The numbers, without the identifiers (for the Asset event extra)."""
        return {key: value for key, value in asdict(self).items() if key not in ("source", "run_id")}

    def line(self) -> str:
        """A one-line human summary."""
        return (
            f"{self.source}: fetched {self.fetched}, valid {self.valid}, quarantined {self.quarantined}, "
            f"expired {self.expired}, duplicates {self.duplicates}, unknown TLP {self.unknown_tlp}, "
            + (f"on warninglists {_hits(self.warninglist_hits)}, " if self.warninglist_hits else "")
            + f"written {self.written}, "
            f"failed {self.failed}, {self.request_units:.1f} RU, "
            f"{self.work_seconds:.1f}s of work in {self.wall_seconds:.1f}s"
            + (" (dry run: nothing written)" if self.dry_run else "")
        )


def _hits(hits: Mapping[str, int]) -> str:
    """``{"public-dns-v4": 2}`` as ``2 (public-dns-v4: 2)``: indicators per list."""
    listed = ", ".join(f"{name}: {count}" for name, count in sorted(hits.items()))
    return f"{sum(hits.values())} ({listed})"


def log_summary(summary: RunSummary, logger: logging.Logger | logging.LoggerAdapter[Any] | Any) -> None:
    """Log the summary as one structured line (JSON after a fixed prefix)."""
    logger.info("ThreatStream run summary %s", json.dumps(asdict(summary), sort_keys=True))
