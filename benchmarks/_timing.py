"""Timing helpers shared by the benchmark scripts (imported as a sibling module)."""

import time
from collections.abc import Callable


def best_of(fn: Callable[[], object], repeat: int = 3) -> float:
    """Seconds of the fastest of ``repeat`` calls: the one least disturbed by other processes."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def best_rate(fn: Callable[[], object], per_call: int, windows: int = 5, min_seconds: float = 0.5) -> float:
    """Items per second of ``fn``: the best of several timing windows (the least disturbed one)."""
    fn()
    best = 0.0
    for _ in range(windows):
        calls, start = 0, time.perf_counter()
        while (elapsed := time.perf_counter() - start) < min_seconds:
            fn()
            calls += 1
        best = max(best, calls * per_call / elapsed)
    return best
