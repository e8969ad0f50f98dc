"""AIMD write concurrency: grow by one per window of clean batches, halve once per throttling burst."""

from __future__ import annotations

import threading

from threatstream.hooks.cosmos import AdaptiveConcurrency


def test_grows_by_one_per_window_of_clean_batches_up_to_the_maximum() -> None:
    limiter = AdaptiveConcurrency(maximum=5, initial=2)
    limits = []
    for _ in range(20):
        limiter.succeeded()
        limits.append(limiter.limit)
    assert limits[:2] == [2, 3]  # 2 clean batches at limit 2 -> 3
    assert limits[2:5] == [3, 3, 4]  # then 3 clean at limit 3 -> 4
    assert limits[-1] == 5
    assert max(limits) == 5


def test_a_burst_of_429s_halves_once_until_a_clean_batch() -> None:
    limiter = AdaptiveConcurrency(maximum=16, initial=16)
    for _ in range(5):  # the batches already in flight all come back throttled
        limiter.throttled()
    assert limiter.limit == 8
    limiter.succeeded()
    limiter.throttled()
    assert limiter.limit == 4
    for _ in range(10):
        limiter.throttled()
    limiter.succeeded()
    limiter.throttled()
    limiter.succeeded()
    limiter.throttled()
    assert limiter.limit == 1  # never below one


def test_acquire_blocks_at_the_limit_and_release_frees_a_slot() -> None:
    limiter = AdaptiveConcurrency(maximum=4, initial=1)
    limiter.acquire()
    entered = threading.Event()

    def second() -> None:
        limiter.acquire()
        entered.set()

    thread = threading.Thread(target=second)
    thread.start()
    assert not entered.wait(0.2)
    limiter.release()
    assert entered.wait(2)
    thread.join()
    assert limiter.peak == 1
