"""The paper's comparison (Table I): loss configurations x UnseenLeafKFold folds (UnseenLabelKFold on label sets).

Everything goes through the public API: a ``Pipeline`` of the README
(``[AudioLoader ->] MelTransformer -> HierarchicalEmbedder``) scored by
:func:`sklearn.model_selection.cross_validate` with
:func:`~sklearn_hier.metrics.hierarchy_scorers`. The mel step is cached with
:class:`joblib.Memory` through the pipeline's ``memory``, so the
configurations share it fold by fold.
"""

from __future__ import annotations

import os
import time
from contextlib import nullcontext
from datetime import datetime
from pathlib import Path
from typing import Any

from sklearn_hier._device import check_device
from sklearn_hier.experiments._dask import DaskBackend
from sklearn_hier.experiments._outputs import write_outputs
from sklearn_hier.experiments._records import check_folder, read_embeddings, read_pair
from sklearn_hier.experiments._runner import InProcess, run_pairs
from sklearn_hier.experiments._settings import CompareSettings, check_settings
from sklearn_hier.experiments._summary import (
    paired_note,
    paired_statistics,
    paired_table,
    precision_note,
    summarise,
    summary_table,
)

__all__ = ["compare"]


def compare(
    settings: CompareSettings | None = None,
    *,
    out: str | Path | None = None,
    verbose: int = 1,
    overwrite: bool = False,
    n_workers: int | None = None,
    scheduler: Any = None,
) -> dict:
    """Run every configuration on every fold and write tables, paired statistics and plots.

    Parameters
    ----------
    settings : CompareSettings, default=None
        What to run; ``None`` runs the paper's defaults. Configurations
        (``settings.losses``) are loss specs with optional embedder options
        (``"PL+B+T:triplets=batch_hard"``, ``"PL+B+T:geometry=poincare"``),
        written in their canonical form (:func:`canonical_config`), so
        ``"t+pl"`` is the row ``PL+T``; two specs for one configuration
        are an error. Each configuration is compared with
        ``settings.baseline`` (default: the first) fold by fold.
    out : str or Path, default=None
        Output folder, default ``./sklearn_hier_results/<timestamp>``. Each
        finished config x fold pair is recorded in ``out/runs/`` (atomically,
        with a fingerprint of the settings) and not run again, so an
        interrupted run resumes where it stopped. A folder holding records
        of other settings is refused.
    verbose : int, default=1
        0 is silent; 1 shows an overall progress bar and the table; 2 also
        prints each fit's epochs (in-process runs).
    overwrite : bool, default=False
        Delete the records (and mel cache) already in ``out`` and start over.
    n_workers : int, default=None
        Run the pairs on a Dask ``LocalCluster`` of this many worker
        processes (on a GPU machine they share the GPUs: several fits per
        GPU), at most the CPU cores this process may use. Needs
        ``dask.distributed``.
    scheduler : str or distributed.Client, default=None
        Run the pairs on this existing Dask cluster instead.

    Returns
    -------
    results : dict
        ``rows`` (one dict per config x fold x metric, as in
        ``results.csv``), ``summary`` (config -> column -> (mean, std)),
        ``table`` (the Markdown table), ``stats`` (the paired statistics of
        every configuration against ``settings.baseline``, as in ``stats.csv``)
        and ``out`` (the folder).

    Raises
    ------
    ValueError
        On a bad setting (before any data is loaded), more ``n_workers`` than
        usable CPU cores, or an ``out`` holding results of other settings.
    RuntimeError
        After the other pairs have run, if some fits diverged (a NaN or
        infinite training loss): they are not recorded, and the message names
        each with its epoch, batch and likely cause.
    KeyboardInterrupt
        On Ctrl-C; the pairs finished before it are kept, the one running is not.

    Examples
    --------
    >>> from sklearn_hier.experiments import CompareSettings
    >>> settings = CompareSettings.quick_settings(dataset="synthetic", losses=("PL", "PL+T"))
    >>> settings.n_splits, settings.max_epochs
    (3, 5)

    ``compare(settings, out="results")`` then runs 2 configs x 3 folds.
    """
    settings = check_settings(settings or CompareSettings())
    if n_workers is not None and scheduler is not None:
        raise ValueError("give n_workers (a local cluster) or scheduler (an existing one), not both.")
    if n_workers is not None and (isinstance(n_workers, bool) or not isinstance(n_workers, int) or n_workers < 1):
        raise ValueError(f"n_workers must be a positive integer; got {n_workers!r}.")
    if n_workers is not None and n_workers > (cores := _usable_cores()):
        raise ValueError(
            f"n_workers={n_workers} exceeds the {cores} CPU cores this process may use: each worker is a process "
            f"running fits, so more workers than cores only share them; use at most {cores}."
        )
    if n_workers is None and scheduler is None:
        check_device(settings.device)  # on a cluster, "auto" and "cuda" are the workers' to resolve
    out = Path(out) if out is not None else Path("sklearn_hier_results") / datetime.now().strftime("%Y%m%d-%H%M%S")
    check_folder(out, settings, overwrite=overwrite)
    started = time.perf_counter()
    with _backend(n_workers, scheduler, verbose) as backend:
        n_clips = run_pairs(settings, out, backend, verbose)
    records = [read_pair(out, config, fold) for config in settings.losses for fold in range(settings.n_splits)]
    rows = [row for record in records for row in record["rows"]]
    embeddings = {r["config"]: e for r in records if (e := read_embeddings(out, r)) is not None}
    summary = summarise(rows, settings.losses)
    table = summary_table(summary)
    stats = paired_statistics(rows, settings.losses, settings.baseline, settings.random_state)
    run = {
        "n_clips": n_clips,
        "seconds": round(time.perf_counter() - started, 1),
        "devices": sorted({r["device"] for r in records}),
        "workers": n_workers if scheduler is None else str(scheduler),
    }
    write_outputs(out, settings, rows, summary, table, embeddings, run, stats)
    if verbose:
        print(table)
        if note := precision_note(rows, label_sets=settings.label_sets):
            print(f"\n{note}")
        if stats:
            print(f"\nPaired over folds, configuration - {settings.baseline}:\n{paired_table(stats)}")
        if paired_note(rows, settings.losses, settings.baseline):
            print(f"\n{paired_note(rows, settings.losses, settings.baseline)}")
        print(f"\nResults written to {out}")
    return {"rows": rows, "summary": summary, "table": table, "stats": stats, "out": out}


def _backend(n_workers: int | None, scheduler: Any, verbose: int) -> Any:
    if n_workers is None and scheduler is None:
        return nullcontext(InProcess(verbose))
    return DaskBackend(n_workers=n_workers, scheduler=scheduler, verbose=verbose)


def _usable_cores() -> int:
    """The CPU cores this process may run on (its affinity where the OS tells it, else every core)."""
    affinity = getattr(os, "sched_getaffinity", None)
    return len(affinity(0)) if affinity is not None else os.cpu_count() or 1
