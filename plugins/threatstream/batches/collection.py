"""Garbage-collector thresholds for bulk work in a task's process: validating a batch, writing one."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager


class _BulkWorkCollector:
    """Thresholds of the cyclic garbage collector while bulk work runs, shared by all of it
    in a process.

    Bulk work makes container objects by the hundred for each record or batch and drops them
    soon after (records, documents, the SDK's request state). At the interpreter's default
    thresholds young collections come every 700 allocations and walk all of that, and what
    is alive when the middle generation is collected is promoted until a full collection walks
    the whole task heap (Airflow, the SDK: a quarter of a million objects), several times per
    100,000 documents: about a tenth of the work's time. While bulk work runs, young collections
    come every :attr:`YOUNG` allocations and full ones wait; the work leaves next to no cyclic
    garbage, and the first thresholds are restored when the last piece of work ends. Thresholds
    that disable collection (0) are left alone.
    """

    YOUNG = 10_000
    OLDEST = 1_000_000_000

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running = 0
        self._saved: tuple[int, int, int] = gc.get_threshold()

    @contextmanager
    def relaxed(self) -> Iterator[None]:
        with self._lock:
            if self._running == 0:
                self._saved = gc.get_threshold()
                young, middle, _ = self._saved
                if young > 0:
                    gc.set_threshold(max(young, self.YOUNG), middle, self.OLDEST)
            self._running += 1
        try:
            yield
        finally:
            with self._lock:
                self._running -= 1
                if self._running == 0:
                    gc.set_threshold(*self._saved)


#: ``with fewer_collections():`` runs bulk work with the collector's thresholds relaxed.
fewer_collections = _BulkWorkCollector().relaxed
