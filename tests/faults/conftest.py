"""The fault-injection suite records one row per case; ``docs/reliability.md`` is built from them.

Each test calls ``fault_case(case, expected, result)`` once it has checked the outcome;
at the end of the session the rows are written to ``.pytest_cache/reliability.json``
(``THREATSTREAM_RELIABILITY_JSON`` overrides the path), from which
``python -m threatstream_dev.reliability`` renders ``docs/reliability.md``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from threatstream_dev.hostile_feed import HostileFeedServer

REPO = Path(__file__).resolve().parents[2]
_ROWS: list[dict[str, str]] = []

#: ``fault_case(case, expected, result)``: record one checked fault-injection case.
FaultCase = Callable[[str, str, str], None]


@pytest.fixture(scope="session")
def hostile_server() -> Iterator[HostileFeedServer]:
    """One misbehaving HTTP server on 127.0.0.1 for the whole fault suite."""
    with HostileFeedServer() as server:
        yield server


@pytest.fixture
def hostile(hostile_server: HostileFeedServer) -> Iterator[HostileFeedServer]:
    """The hostile server with no routes and an empty request log, reset again after the test."""
    hostile_server.reset()
    yield hostile_server
    hostile_server.reset()


@pytest.fixture
def fault_case(request: pytest.FixtureRequest) -> FaultCase:
    """Record a fault case (what was injected, the expected path, what happened)."""

    def record(case: str, expected: str, result: str) -> None:
        _ROWS.append({"test": request.node.nodeid, "case": case, "expected": expected, "result": result})

    return record


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if not _ROWS:
        return
    default = REPO / ".pytest_cache" / "reliability.json"
    target = Path(os.environ.get("THREATSTREAM_RELIABILITY_JSON", default))
    target.parent.mkdir(parents=True, exist_ok=True)
    rows = sorted(_ROWS, key=lambda row: row["test"])
    target.write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")
