"""The Airflow plugin: mounts :func:`threatstream.api.app.create_app` in the api-server and,
on Airflow 3.1+, adds the ThreatStream page to the UI's navigation.

Importing this module imports neither FastAPI's app nor the Azure SDK: ``fastapi_apps`` builds
the app on first access, which only the api-server (and ``airflow plugins``) makes.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

from airflow.plugins_manager import AirflowPlugin

#: The plugin's URL prefix in the api-server (``threatstream.api.app.URL_PREFIX``, without its import).
PREFIX = "threatstream"
#: Whether this Airflow has the UI's ``external_views`` plugin interface (3.1 and later); on 3.0
#: the page is reachable at its own URL only, ``<api-server>/threatstream/ui/``.
SUPPORTS_EXTERNAL_VIEWS = hasattr(AirflowPlugin, "external_views")


#: The navigation entry's label: short, as the UI's top-level buttons are ("Home", "Assets"...);
#: a longer one is cut ("ThreatStr…").
NAV_LABEL = "Intel"


def page_view() -> dict[str, Any]:
    """The ``external_views`` entry of the ThreatStream page: a top-level navigation item whose
    ``href`` and icons are relative to the UI's base URL (so they hold behind a proxy prefix);
    the UI shows the page in a frame at ``<base_url>/plugin/threatstream``."""
    return {
        "name": NAV_LABEL,
        "href": f"{PREFIX}/ui/",
        "url_route": PREFIX,
        "destination": "nav",
        "nav_top_level": True,
        "icon": f"{PREFIX}/ui/icon.svg",
        "icon_dark_mode": f"{PREFIX}/ui/icon-dark.svg",
    }


class ThreatStreamApiPlugin(AirflowPlugin):
    """ThreatStream's lookup and health API, under ``/threatstream`` (``docs/api.md``), and its
    page (``docs/ui.md``)."""

    name = "threatstream_api"
    if SUPPORTS_EXTERNAL_VIEWS:
        external_views = [page_view()]

    @cached_property
    def fastapi_apps(self) -> list[Any]:  # type: ignore[override]
        from threatstream.api.app import URL_PREFIX, create_app

        return [{"app": create_app(), "url_prefix": URL_PREFIX, "name": "ThreatStream API"}]
