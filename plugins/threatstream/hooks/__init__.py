"""Transport: the feed hook base class and the Cosmos DB indicator store."""

from threatstream.hooks.cosmos import IndicatorStoreHook
from threatstream.hooks.feed import FeedHook, FetchedPage, FetchWindow

__all__ = ["FeedHook", "FetchWindow", "FetchedPage", "IndicatorStoreHook"]
