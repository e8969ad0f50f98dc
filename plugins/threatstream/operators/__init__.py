"""The three stages of every source's DAG."""

from threatstream.operators.fetch import FetchFeedOperator
from threatstream.operators.upsert import UpsertIndicatorsOperator
from threatstream.operators.validate import ValidateIndicatorsOperator

__all__ = ["FetchFeedOperator", "UpsertIndicatorsOperator", "ValidateIndicatorsOperator"]
