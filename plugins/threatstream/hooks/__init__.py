"""Transport: the feed hook base class and the Cosmos DB indicator store.

Names are imported on first use (PEP 562), so parsing a DAG file never loads the Azure SDKs:
``from threatstream.hooks import IndicatorStoreHook`` still works everywhere.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from threatstream.hooks.cosmos import IndicatorStoreHook
    from threatstream.hooks.feed import FeedHook, FetchedPage, FetchWindow

_LAZY = {
    "FeedHook": "threatstream.hooks.feed",
    "FetchWindow": "threatstream.hooks.feed",
    "FetchedPage": "threatstream.hooks.feed",
    "IndicatorStoreHook": "threatstream.hooks.cosmos",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["FeedHook", "FetchWindow", "FetchedPage", "IndicatorStoreHook"]
