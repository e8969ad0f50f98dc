"""``apply_retention``: delete batch files past their retention (the maintenance DAG's task)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow.sdk import BaseOperator, Context, ObjectStoragePath

from threatstream.batches.retention import RetentionPolicy, apply_retention
from threatstream.batches.storage import default_storage_base, default_storage_conn_id
from threatstream.compat import AirflowFailException
from threatstream.naming import STIX_EXPORT_FOLDER
from threatstream.operators.rendering import rendered_flag
from threatstream.settings import settings
from threatstream.sources import all_sources


def configured_policy() -> RetentionPolicy:
    """The ``[threatstream] retention_days`` / ``quarantine_retention_days`` options."""
    configured = settings()
    return RetentionPolicy(
        retention_days=configured.retention_days,
        quarantine_retention_days=configured.quarantine_retention_days,
    )


def retained_folders() -> list[str]:
    """Every folder the package writes under the storage base: each source's, and the STIX bundles'."""
    return sorted({*(spec.storage_folder for spec in all_sources()), STIX_EXPORT_FOLDER})


class ApplyRetentionOperator(BaseOperator):
    """Delete run prefixes older than the retention policy; quarantine files are kept longer.

    Covers everything the package writes under the storage base: the batches of every
    registered source (list feeds included) and the STIX export's bundles.

    :param storage_base: object-storage base URI (templated); defaults to ``[threatstream] storage_base``.
    :param storage_conn_id: connection for the storage base (templated); defaults to
        ``[threatstream] storage_conn_id``.
    :param report_only: report what would be deleted without deleting (templated; the DAG's
        ``dry_run`` param).
    """

    template_fields: Sequence[str] = ("storage_base", "storage_conn_id", "report_only")
    ui_color = "#f6f0e8"

    def __init__(
        self,
        *,
        storage_base: str | None = None,
        storage_conn_id: str | None = None,
        report_only: bool | str = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.storage_base = storage_base
        self.storage_conn_id = storage_conn_id
        self.report_only = report_only

    def execute(self, context: Context) -> dict[str, Any]:
        try:
            policy = configured_policy()
        except ValueError as err:  # a bad setting fails at once, without retries
            raise AirflowFailException(f"Invalid [threatstream] retention settings: {err}") from None
        base = ObjectStoragePath(
            self.storage_base or default_storage_base(),
            conn_id=self.storage_conn_id or default_storage_conn_id(),
        )
        dry_run = rendered_flag(self.report_only, "report_only")
        report = apply_retention(base, retained_folders(), policy, dry_run=dry_run)
        self.log.info(
            "Retention (%s days, quarantine %s days)%s: %d batches seen, %d deleted, %d trimmed "
            "(quarantine kept), %d files / %d bytes deleted",
            policy.retention_days,
            policy.quarantine_retention_days,
            " [dry run]" if dry_run else "",
            report.batches_seen,
            report.batches_deleted,
            report.batches_trimmed,
            report.files_deleted,
            report.bytes_deleted,
        )
        return report.as_dict()
