"""ThreatStream as an Airflow provider: what ``pip install threatstream`` registers.

Airflow finds :func:`get_provider_info` through the ``apache_airflow_provider`` entry point
(``pyproject.toml``) and validates it against ``airflow/provider_info.schema.json``; the
``package-name`` must be the distribution's name. The result registers the
``threatstream_feed`` connection type and the ``[threatstream]`` config section, both derived
from their one definition (:mod:`threatstream.feeds.connection`, :mod:`threatstream.settings`).
A plugins-folder deployment never calls it, and works the same without it.

Like ``cli.py`` this describes the whole package, so it sits on top of the layers; it imports
only those two light modules (Airflow calls it while it lists providers).
"""

from __future__ import annotations

from importlib import metadata
from typing import Any, Final

from threatstream.feeds.connection import connection_type_info
from threatstream.settings import config_section

#: The distribution name (``[project] name``): Airflow requires ``package-name`` to match it.
PACKAGE_NAME: Final = "threatstream"


def package_version() -> str:
    """The installed distribution's version; ``0+plugins`` when only in a plugins folder."""
    try:
        return metadata.version(PACKAGE_NAME)
    except metadata.PackageNotFoundError:
        return "0+plugins"


def get_provider_info() -> dict[str, Any]:
    """The provider metadata, in the form the Microsoft Azure and HTTP providers return."""
    return {
        "package-name": PACKAGE_NAME,
        "name": "ThreatStream",
        "description": (
            "Threat-intelligence feeds fetched, canonicalised and upserted into Azure Cosmos DB.\n"
        ),
        "versions": [package_version()],
        "integrations": [
            {
                "integration-name": "ThreatStream feeds",
                "tags": ["service"],
            }
        ],
        "hooks": [{"integration-name": "ThreatStream feeds", "python-modules": ["threatstream.feeds.hook"]}],
        "connection-types": [connection_type_info("threatstream.feeds.hook.FeedHook")],
        "config": config_section(),
    }
