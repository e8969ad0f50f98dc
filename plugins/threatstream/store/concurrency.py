"""How many transactional batches may be in flight: grown while the store keeps up, shrunk
when requests queue or the store throttles."""

from __future__ import annotations

import threading


class AdaptiveConcurrency:
    """How many batches may be in flight: AIMD, as TCP does with its congestion window, with
    TCP Vegas's check that more in flight still means more written.

    Every ``limit`` clean batches raise the limit by one, up to ``maximum``, while the store
    keeps up: each window compares its mean time per operation with the fastest seen, which
    estimates how many batches wait in a queue (``limit * (1 - fastest / mean)``). With
    more than :attr:`QUEUED_TO_GROW` waiting the limit holds, and with more than
    :attr:`QUEUED_TO_SHRINK` it drops by one: a store (or client) already at its capacity
    only gets slower with more requests in flight. Throttling (429) halves the limit, at
    most once until a batch completes cleanly again, so one burst of 429s from the batches
    already in flight counts as one signal.
    """

    QUEUED_TO_GROW = 2.0
    QUEUED_TO_SHRINK = 4.0

    def __init__(self, maximum: int, initial: int = 2) -> None:
        self.maximum = max(1, maximum)
        self.limit = max(1, min(initial, self.maximum))
        self.peak = 0
        self._in_flight = 0
        self._clean = 0
        self._window_seconds = 0.0
        self._window_operations = 0
        self._fastest = float("inf")  # seconds per operation
        self._backed_off = False
        self._changed = threading.Condition()

    def acquire(self) -> None:
        """Wait for a free slot and take it."""
        with self._changed:
            while self._in_flight >= self.limit:
                self._changed.wait()
            self._in_flight += 1
            self.peak = max(self.peak, self._in_flight)

    def release(self) -> None:
        with self._changed:
            self._in_flight -= 1
            self._changed.notify_all()

    def succeeded(self, seconds: float = 0.0, operations: int = 0) -> None:
        """A batch of ``operations`` went through in ``seconds`` without throttling; at the end
        of a window of clean batches, grow by one unless requests queue (see the class)."""
        with self._changed:
            self._backed_off = False
            self._clean += 1
            if operations > 0:
                self._window_seconds += seconds
                self._window_operations += operations
                self._fastest = min(self._fastest, seconds / operations)
            if self._clean < self.limit:
                return
            queued = self._queued()
            if queued > self.QUEUED_TO_SHRINK and self.limit > 1:
                self.limit -= 1
            elif queued <= self.QUEUED_TO_GROW and self.limit < self.maximum:
                self.limit += 1
                self._changed.notify_all()
            self._clean = 0
            self._window_seconds, self._window_operations = 0.0, 0

    def _queued(self) -> float:
        """Batches estimated to be waiting in this window (0 when no time was measured)."""
        if not self._window_operations or not self._window_seconds:
            return 0.0
        mean = self._window_seconds / self._window_operations
        return self.limit * (1 - self._fastest / mean)

    def throttled(self) -> None:
        """The store answered 429: halve the limit (once per burst)."""
        with self._changed:
            self._clean = 0
            self._window_seconds, self._window_operations = 0.0, 0
            if not self._backed_off:
                self.limit = max(1, self.limit // 2)
                self._backed_off = True
