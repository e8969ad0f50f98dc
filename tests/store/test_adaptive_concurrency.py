"""AIMD write concurrency: grow by one per window of clean batches while the store keeps up,
halve once per throttling burst."""

from __future__ import annotations

import threading

from threatstream.store.concurrency import AdaptiveConcurrency


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


def test_grows_to_the_maximum_while_time_per_batch_stays_flat() -> None:
    # A store far away and not busy: more in flight is more written.
    limiter = AdaptiveConcurrency(maximum=16, initial=2)
    for _ in range(300):
        limiter.succeeded(0.050, 100)
    assert limiter.limit == 16


def test_stops_growing_when_more_in_flight_only_waits_in_a_queue() -> None:
    # A store (or client) at its capacity: each batch in flight adds to every batch's time.
    limiter = AdaptiveConcurrency(maximum=16, initial=2)
    limits = []
    for _ in range(300):
        limiter.succeeded(0.010 * limiter.limit, 100)
        limits.append(limiter.limit)
    assert max(limits) == limits[-1] == 5  # 3 queued at 5 in flight: hold


def test_shrinks_when_the_store_slows_down_under_the_same_load() -> None:
    limiter = AdaptiveConcurrency(maximum=8, initial=8)
    for _ in range(8):
        limiter.succeeded(0.010, 100)
    assert limiter.limit == 8
    limits = []
    for _ in range(40):  # now four times slower: six of the eight batches wait
        limiter.succeeded(0.040, 100)
        limits.append(limiter.limit)
    assert limits[-1] < 8
    assert limits == sorted(limits, reverse=True)  # one step down per window, never up


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
