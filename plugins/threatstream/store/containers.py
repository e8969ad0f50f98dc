"""The Cosmos containers: their default names and their settings (partition key path, default
TTL, indexing policy), shipped with the package in ``store/container_settings/``.

The settings are read with :mod:`importlib.resources`, so they are found wherever the package
is: installed, on ``plugins/``, or imported straight from a zip such as MWAA's ``plugins.zip``.
``THREATSTREAM_CONTAINER_SETTINGS`` overrides them with a ``container.json`` of one's own,
next to which ``merged_container.json`` is read.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from azure.cosmos import ContainerProxy, CosmosClient

DEFAULT_DATABASE = "threatstream"
#: The per-source indicator container.
DEFAULT_CONTAINER = "indicators"
#: The merged view's container.
DEFAULT_MERGED_CONTAINER = "indicators_merged"

#: Settings files of the two containers, in the package's ``store/container_settings/`` folder.
INDICATOR_SETTINGS = "container.json"
MERGED_SETTINGS = "merged_container.json"


def container_settings(file_name: str) -> dict[str, Any]:
    """The settings in ``file_name`` (:data:`INDICATOR_SETTINGS` or :data:`MERGED_SETTINGS`).

    Read from the package, or from the folder of ``THREATSTREAM_CONTAINER_SETTINGS`` when set
    (that file itself for :data:`INDICATOR_SETTINGS`).
    """
    override = os.environ.get("THREATSTREAM_CONTAINER_SETTINGS")
    if not override:
        text = files("threatstream.store").joinpath("container_settings", file_name)
        settings: dict[str, Any] = json.loads(text.read_text(encoding="utf-8"))
        return settings
    path = Path(override)
    if file_name != INDICATOR_SETTINGS:
        path = path.with_name(file_name)
    try:
        settings = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FileNotFoundError(
            f"Cosmos container settings not found at {path} (THREATSTREAM_CONTAINER_SETTINGS={override}); "
            "unset it to use the settings shipped with the package."
        ) from None
    return settings


def indicator_container_settings() -> dict[str, Any]:
    """Settings of the per-source indicator container."""
    return container_settings(INDICATOR_SETTINGS)


def merged_container_settings() -> dict[str, Any]:
    """Settings of the merged view's container."""
    return container_settings(MERGED_SETTINGS)


def ensure_container(
    client: CosmosClient, database_name: str, container_name: str, settings: Mapping[str, Any]
) -> ContainerProxy:
    """Container ``container_name`` of ``database_name``, both created when missing (with
    ``settings``: partition key path, default TTL, indexing policy).

    Tasks starting together may race to create them: a 409 (created meanwhile by another) is
    followed by one more ``create_*_if_not_exists``, which then finds them. Other errors
    (``CosmosHttpResponseError``) are the caller's to classify.
    """
    from azure.cosmos import PartitionKey
    from azure.cosmos.exceptions import CosmosHttpResponseError

    def create() -> ContainerProxy:
        database = client.create_database_if_not_exists(database_name)
        return database.create_container_if_not_exists(
            id=container_name,
            partition_key=PartitionKey(path=settings["partition_key_path"]),
            default_ttl=settings.get("default_ttl", -1),
            indexing_policy=settings.get("indexing_policy"),
        )

    try:
        return create()
    except CosmosHttpResponseError as err:
        if err.status_code != 409:
            raise
    return create()
