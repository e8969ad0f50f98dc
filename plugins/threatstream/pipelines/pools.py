"""Airflow pools that cap feed requests and Cosmos DB writes across every ThreatStream DAG.

Without set-up, each DAG already limits itself: one ``fetch`` and one ``upsert`` at a time
across all its runs (``max_active_tis_per_dag``; ``[threatstream] feed_concurrency`` and
``cosmos_concurrency``), so a 200-hour backfill fetches one window after the other. Pools
add a limit *across* DAGs (all sources share one Cosmos DB write budget). A task whose
pool does not exist is never scheduled, so pools are opt-in: create them, then set
``[threatstream] use_pools = True``::

    python -m threatstream.pipelines.pools > pools.json && airflow pools import pools.json

(``make airflow`` does both.)
"""

from __future__ import annotations

import json
import sys

from threatstream.naming import airflow_name
from threatstream.settings import settings
from threatstream.sources import SourceSpec, all_sources

#: The pool every ``upsert`` shares (Cosmos DB writes).
COSMOS_POOL = airflow_name("cosmos")
#: Slots per pool: one request stream per feed, two writers into Cosmos DB.
FEED_POOL_SLOTS = 1
COSMOS_POOL_SLOTS = 2


def pools_enabled() -> bool:
    return settings().use_pools


def feed_pool(spec: SourceSpec) -> str:
    """The pool of the source's fetch task (Airflow's ``default_pool`` unless pools are enabled)."""
    return spec.pool if pools_enabled() else "default_pool"


def cosmos_pool() -> str:
    """The pool of every upsert task (Airflow's ``default_pool`` unless pools are enabled)."""
    return COSMOS_POOL if pools_enabled() else "default_pool"


def pool_definitions() -> dict[str, dict[str, object]]:
    """Every ThreatStream pool, in ``airflow pools import`` format."""
    pools: dict[str, dict[str, object]] = {
        spec.pool: {
            "slots": FEED_POOL_SLOTS,
            "description": f"ThreatStream: concurrent requests to {spec.title}",
            "include_deferred": False,
        }
        for spec in all_sources()
    }
    pools[COSMOS_POOL] = {
        "slots": COSMOS_POOL_SLOTS,
        "description": "ThreatStream: concurrent upserts into Cosmos DB",
        "include_deferred": False,
    }
    return pools


if __name__ == "__main__":
    json.dump(pool_definitions(), sys.stdout, indent=2)
    sys.stdout.write("\n")
