"""Peak memory of a block of test code, as the fault suite measures it."""

from __future__ import annotations

import tracemalloc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def python_peak() -> Iterator[list[int]]:
    """Peak bytes allocated by Python code inside the block (``tracemalloc``), in ``peak[0]``
    once the block has ended, raised or not."""
    peak = [0]
    tracemalloc.start()
    try:
        yield peak
    finally:
        peak[0] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
