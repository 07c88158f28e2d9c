"""The comparison's pairs on a ``dask.distributed`` cluster: a local one, or one already running.

Each pair is one task. The dataset is loaded once per worker process (the
task's :func:`~sklearn_hier.experiments._pairs.prepared` keeps it), so only
the settings travel with a task; ``device="auto"`` resolves on the worker.
A worker that dies mid-fit loses its task, which the scheduler runs again
elsewhere; only the client writes results, so nothing partial is recorded.

On a machine with GPUs, ``n_workers`` local workers share them round-robin:
four workers on one GPU run four fits at once on it (each a process of its
own, so fits never share a CUDA context or a random state).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch

from sklearn_hier.experiments._pairs import fit_pair, prepared
from sklearn_hier.experiments._settings import CompareSettings

__all__ = ["DaskBackend", "import_distributed"]

Pair = tuple[str, int]
RETRIES = 2  # a pair whose fit raises is tried this many more times before the run stops


def import_distributed() -> Any:
    """The ``distributed`` module, or an ImportError saying how to install it."""
    try:
        import distributed
    except ImportError as error:
        raise ImportError(
            "Running on a Dask cluster (--n-workers, --scheduler) needs dask.distributed: "
            "pip install 'sklearn-hier[distributed]'.",
            name="distributed",
        ) from error
    return distributed


class DaskBackend:
    """Run pairs as tasks on a Dask cluster: ``n_workers`` local processes, or the cluster at ``scheduler``.

    Parameters
    ----------
    n_workers : int, default=None
        Start a ``LocalCluster`` of this many single-threaded worker
        processes; its dashboard address is printed.
    scheduler : str or distributed.Client, default=None
        Address of a running scheduler (``tcp://host:8786``), or a client.
    verbose : int, default=1
        0 prints nothing.

    Use it as a context manager: the cluster it started is closed on exit.
    """

    def __init__(self, n_workers: int | None = None, scheduler: Any = None, verbose: int = 1) -> None:
        distributed = import_distributed()
        self._stack: list[Any] = []
        self.local = scheduler is None
        if isinstance(scheduler, distributed.Client):
            self.client = scheduler
        else:
            if self.local:
                cluster = distributed.LocalCluster(
                    n_workers=n_workers, threads_per_worker=1, processes=True, dashboard_address=":0"
                )
                self._stack.append(cluster)
                scheduler = cluster
                if verbose:
                    print(f"Dask LocalCluster of {n_workers} workers; dashboard: {cluster.dashboard_link}")
            self.client = distributed.Client(scheduler)
            self._stack.append(self.client)

    def __enter__(self) -> DaskBackend:
        return self

    def __exit__(self, *exc: Any) -> None:
        for item in reversed(self._stack):
            item.close()

    def _resources(self) -> dict[str, int] | None:
        # Workers started with ``--resources GPU=1`` get one fit per GPU; without it, no constraint.
        workers = self.client.scheduler_info()["workers"].values()
        return {"GPU": 1} if any("GPU" in w.get("resources", {}) for w in workers) else None

    def prepare(self, settings: CompareSettings) -> int:
        # One worker loads (or renders into its data home) first: errors come back before any fit,
        # and workers of this machine then read the data home instead of rendering it at once.
        future = self.client.submit(_prepare_on_worker, settings, pure=False)
        return future.result()

    def results(self, settings: CompareSettings, pairs: list[Pair], out: Path) -> Iterator[dict[str, Any]]:
        distributed = import_distributed()
        cache = str(Path(out).resolve() / "cache") if self.local else None
        resources = self._resources()
        futures = [
            self.client.submit(
                _pair_on_worker, settings, config, fold, cache, pure=False, retries=RETRIES, resources=resources
            )
            for config, fold in pairs
        ]
        try:
            for future in distributed.as_completed(futures):
                yield future.result()
        finally:
            self.client.cancel(futures)


def _prepare_on_worker(settings: CompareSettings) -> int:
    return len(prepared(settings)[1])


def _pair_on_worker(settings: CompareSettings, config: str, fold: int, cache: str | None) -> dict[str, Any]:
    return fit_pair(replace(settings, device=_worker_device(settings.device)), config, fold, cache)


def _worker_device(device: str) -> str:
    """``"auto"`` on this worker: its share of the machine's GPUs (round-robin by worker name), else the CPU."""
    if device != "auto" or not torch.cuda.is_available():
        return device if device != "auto" else "cpu"
    from distributed import get_worker

    name = get_worker().name
    slot = name if isinstance(name, int) else sum(str(name).encode())
    return f"cuda:{slot % torch.cuda.device_count()}"
