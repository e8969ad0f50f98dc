"""The Airflow plugin: mounts :func:`threatstream.api.app.create_app` in the api-server.

Importing this module imports neither FastAPI's app nor the Azure SDK: ``fastapi_apps`` builds
the app on first access, which only the api-server (and ``airflow plugins``) makes.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

from airflow.plugins_manager import AirflowPlugin


class ThreatStreamApiPlugin(AirflowPlugin):
    """ThreatStream's lookup and health API, under ``/threatstream`` (``docs/api.md``)."""

    name = "threatstream_api"

    @cached_property
    def fastapi_apps(self) -> list[Any]:  # type: ignore[override]
        from threatstream.api.app import URL_PREFIX, create_app

        return [{"app": create_app(), "url_prefix": URL_PREFIX, "name": "ThreatStream API"}]
