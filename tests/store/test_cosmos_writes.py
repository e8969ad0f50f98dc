"""IndicatorStoreHook's write loop against an in-process stand-in for the container.

What the local Cosmos server cannot show on demand: responses whose headers change under
the hook, how many batches are in flight, throttling at a chosen moment.
"""

from __future__ import annotations

import gc
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from types import SimpleNamespace
from typing import Any

import orjson
from azure.cosmos.exceptions import CosmosHttpResponseError

from threatstream.store.indicators import IndicatorStoreHook

Operations = Sequence[tuple[str, tuple[dict[str, Any], ...]]]


class _RacyResults(list[dict[str, Any]]):
    """A batch result whose headers another thread is changing (the SDK writes throttling
    counters into the latest response's headers after every request)."""

    def get_response_headers(self) -> Mapping[str, Any]:
        raise RuntimeError("OrderedDict mutated during iteration")


class FakeContainer:
    """Answers ``execute_item_batch`` like the SDK does; ``answer`` may raise per call."""

    def __init__(
        self,
        answer: Callable[[int, Operations], None] = lambda call, operations: None,
        *,
        latency: float = 0.0,
        charge: str = "2.5",
    ) -> None:
        self.client_connection = SimpleNamespace(connection_policy=SimpleNamespace(RetryOptions=None))
        self.answer = answer
        self.latency = latency
        self.charge = charge
        self.calls = 0
        self.written: dict[str, dict[str, Any]] = {}
        self.in_flight = 0
        self.most_in_flight = 0
        self._lock = threading.Lock()

    def execute_item_batch(
        self,
        batch_operations: Operations,
        partition_key: str,
        response_hook: Callable[[Mapping[str, Any], list[dict[str, Any]]], None] | None = None,
    ) -> list[dict[str, Any]]:
        with self._lock:
            self.calls += 1
            call = self.calls
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            time.sleep(self.latency)
            self.answer(call, batch_operations)
            with self._lock:
                for _, (document,) in batch_operations:
                    assert document["partition_key"] == partition_key
                    self.written[document["id"]] = document
        finally:
            with self._lock:
                self.in_flight -= 1
        if response_hook is not None:
            response_hook({"x-ms-request-charge": self.charge}, [])
        return _RacyResults()


def _hook(container: FakeContainer, **kwargs: Any) -> IndicatorStoreHook:
    hook = IndicatorStoreHook("unused", backoff_initial=0.001, **kwargs)
    hook.get_container = lambda: container  # type: ignore[method-assign,assignment,return-value]
    return hook


def _documents(count: int, keys: int = 10) -> list[dict[str, Any]]:
    return [{"id": f"d{i}", "partition_key": f"pk{i % keys}", "n": i} for i in range(count)]


def test_the_request_charge_is_read_from_the_response_without_copying_its_headers() -> None:
    container = FakeContainer(charge="2.5")
    stats = _hook(container).upsert_documents(_documents(1000))
    assert (stats.written, stats.failed, stats.batches) == (1000, 0, 10)
    assert stats.request_charge == 25.0
    assert len(container.written) == 1000


def test_throttled_batches_are_retried_and_counted() -> None:
    def answer(call: int, operations: Operations) -> None:
        if call in (1, 2, 3):
            raise CosmosHttpResponseError(status_code=429, message="throttled")

    container = FakeContainer(answer)
    stats = _hook(container).upsert_documents(_documents(1000))
    assert (stats.written, stats.failed, stats.throttled) == (1000, 0, 3)
    assert len(container.written) == 1000


def test_json_lines_are_written_as_the_documents_they_encode() -> None:
    documents = _documents(250, keys=3)
    container = FakeContainer()
    stats = _hook(container).upsert_json_lines(orjson.dumps(d) for d in documents)
    assert (stats.attempted, stats.written, stats.failed, stats.batches) == (250, 250, 0, 3)
    assert container.written == {d["id"]: d for d in documents}


def test_in_flight_batches_never_exceed_the_concurrency_limit() -> None:
    container = FakeContainer(latency=0.01)
    stats = _hook(container, max_concurrency=3).upsert_documents(_documents(4000, keys=40))
    assert (stats.written, stats.batches) == (4000, 40)
    assert container.most_in_flight == stats.peak_concurrency == 3


def test_planning_runs_ahead_of_the_batches_in_flight() -> None:
    consumed = 0

    def stream() -> Iterator[dict[str, Any]]:
        nonlocal consumed
        for document in _documents(1000, keys=1):
            consumed += 1
            yield document

    planned_while_first_in_flight: list[int] = []

    def answer(call: int, operations: Operations) -> None:
        if call == 1:  # one batch in flight at a time: the next two are planned meanwhile
            deadline = time.monotonic() + 5
            while consumed < 300 and time.monotonic() < deadline:
                time.sleep(0.005)
            planned_while_first_in_flight.append(consumed)

    stats = _hook(FakeContainer(answer), max_concurrency=1).upsert_documents(stream())
    assert stats.written == 1000
    assert planned_while_first_in_flight[0] >= 300


def test_collector_thresholds_are_relaxed_while_writing_and_then_restored() -> None:
    before = gc.get_threshold()
    during: list[tuple[int, int, int]] = []
    container = FakeContainer(lambda call, operations: during.append(gc.get_threshold()))
    _hook(container).upsert_documents(_documents(300, keys=3))
    assert gc.get_threshold() == before
    young, middle, oldest = during[0]
    assert young >= 10_000
    assert middle == before[1]
    assert oldest >= 1_000_000


def test_overlapping_writes_restore_the_thresholds_when_the_last_one_ends() -> None:
    before = gc.get_threshold()
    first_started, second_ended = threading.Event(), threading.Event()

    def first_answer(call: int, operations: Operations) -> None:
        first_started.set()
        assert second_ended.wait(5)

    first = threading.Thread(
        target=lambda: _hook(FakeContainer(first_answer)).upsert_documents(_documents(100))
    )
    first.start()
    assert first_started.wait(5)
    _hook(FakeContainer()).upsert_documents(_documents(100))
    assert gc.get_threshold() != before  # the first write still runs
    second_ended.set()
    first.join(5)
    assert gc.get_threshold() == before


def test_disabled_automatic_collection_stays_disabled() -> None:
    before = gc.get_threshold()
    gc.set_threshold(0)
    try:
        during: list[tuple[int, int, int]] = []
        container = FakeContainer(lambda call, operations: during.append(gc.get_threshold()))
        _hook(container).upsert_documents(_documents(100))
        assert during[0][0] == 0
        assert gc.get_threshold()[0] == 0
    finally:
        gc.set_threshold(*before)
