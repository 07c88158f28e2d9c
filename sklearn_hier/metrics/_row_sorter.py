"""Sorting the rows of the ranking engine's blocks: numpy on background threads on the CPU, torch.sort elsewhere."""

from __future__ import annotations

import time
from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np
import torch

__all__ = ["RowSorter", "SortJob"]


class SortJob:
    """A block whose rows are being sorted in place: some by background threads, the rest on request."""

    def __init__(
        self,
        words: torch.Tensor,
        futures: list[Future] | None = None,
        sorter: RowSorter | None = None,
        own: np.ndarray | None = None,
    ) -> None:
        self._words, self._futures, self._sorter, self._own = words, futures or [], sorter, own

    def result(self) -> torch.Tensor:
        if self._sorter is not None:
            self._sorter.sort_own_share(self._own, len(self._words))
        for future in self._futures:
            future.result()
        if self._sorter is not None:
            self._sorter.idle_since = time.perf_counter()
        return self._words


class RowSorter:
    """Sorts the rows of int64 blocks.

    On the CPU with ``cpu_sort="numpy"`` and background sorters, numpy sorts
    rows in place on background threads (numpy's sort releases the GIL) while
    the calling thread runs PyTorch and sorts a share of each block itself.
    That share adapts, block after block, so that the calling thread's PyTorch
    work plus its share of sorting takes as long as the background sorting.
    PyTorch's global thread count is never changed. Without background sorters
    the rows are sorted at once; other devices (and ``cpu_sort="torch"``) use
    ``torch.sort``.

    Parameters
    ----------
    device : torch.device
        Device of the blocks.
    cpu_sort : {"numpy", "torch"}
        Sorter of CPU rows.
    n_sorters : int or None
        Background threads; None is half of PyTorch's thread count.
    """

    def __init__(self, device: torch.device, cpu_sort: str = "numpy", n_sorters: int | None = None) -> None:
        self._numpy = device.type == "cpu" and cpu_sort == "numpy"
        wanted = torch.get_num_threads() // 2 if n_sorters is None else n_sorters
        self._n_sorters = wanted if self._numpy else 0
        self._pool = ThreadPoolExecutor(self._n_sorters) if self._n_sorters else None
        self._background_share = 0.75
        self.idle_since: float | None = None

    def __enter__(self) -> RowSorter:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._pool is not None:
            self._pool.shutdown()

    def submit(self, words: torch.Tensor) -> SortJob:
        if not self._numpy:
            return SortJob(words.sort(dim=1).values)
        array = words.numpy()
        if self._pool is None:
            array.sort(axis=1)
            return SortJob(words)
        background = round(self._background_share * len(array))
        bounds = np.linspace(0, background, self._n_sorters + 1).astype(int)
        futures = [self._pool.submit(array[a:b].sort, axis=1) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
        return SortJob(words, futures, self, array[background:])

    def sort_own_share(self, rows: np.ndarray, n_rows: int) -> None:
        start = time.perf_counter()
        rows.sort(axis=1)
        if self.idle_since is None or len(rows) == 0:
            return
        per_row = (time.perf_counter() - start) / len(rows)
        other_work = start - self.idle_since
        # Background threads (k of them) sorting b rows finish with the caller, who does its other
        # work and the n - b remaining rows, when b / k = other / per_row + n - b.
        k = self._n_sorters
        balanced = k * (other_work / per_row + n_rows) / (k + 1) / n_rows
        self._background_share = min(0.95, max(0.5, (self._background_share + balanced) / 2))
