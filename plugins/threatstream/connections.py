"""Airflow connections the package needs: a missing one is a configuration error, not a retry.

Airflow raises ``AirflowNotFoundException`` for a connection that no secrets backend, no
``AIRFLOW_CONN_*`` variable and no database row defines. That exception is retryable, so a
task would retry for minutes against a setting that cannot appear on its own. Hooks mix in
:class:`RequiredConnection` to fail at once instead, naming the connection and where to set it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from threatstream.compat import AirflowNotFoundException
from threatstream.exceptions import ConnectionMissingError

if TYPE_CHECKING:
    from airflow.sdk import Connection


def connection_env_var(conn_id: str) -> str:
    """The environment variable Airflow reads ``conn_id`` from."""
    return f"AIRFLOW_CONN_{conn_id.upper()}"


def missing_connection_message(conn_id: str) -> str:
    """One line that names the connection and the ways to define it."""
    return (
        f"Airflow connection {conn_id!r} is not defined. Add it in the Airflow UI (Admin > Connections), "
        f"with `airflow connections add {conn_id} ...`, as the environment variable "
        f"{connection_env_var(conn_id)}, or in the configured secrets backend."
    )


class RequiredConnection:
    """Hook mixin: :meth:`get_connection` fails the task at once when the connection is missing.

    Put it before the Airflow hook class in the bases. A secrets backend that cannot be reached
    is reported by Airflow the same way and fails at once too: its error is in the task log.
    """

    @classmethod
    def get_connection(cls, conn_id: str) -> Connection:
        try:
            connection: Connection = super().get_connection(conn_id)  # type: ignore[misc]
        except Exception as err:
            if not is_not_found(err):
                raise
            raise ConnectionMissingError(missing_connection_message(conn_id)) from None
        return connection


def is_not_found(error: BaseException) -> bool:
    """Whether ``error`` is Airflow's "not defined" (the SDK's or the core's class, by version)."""
    return isinstance(error, AirflowNotFoundException) or any(
        kind.__name__ == "AirflowNotFoundException" for kind in type(error).__mro__
    )
