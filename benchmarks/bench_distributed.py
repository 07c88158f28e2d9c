"""Fits per hour of the comparison runner at 1, 2, ... concurrent fits (Dask worker processes).

The quick synthetic comparison (``CompareSettings.quick_settings(dataset="synthetic")``:
6 configurations x 3 folds) is run once per worker count on a fresh
``LocalCluster(n_workers=N, threads_per_worker=1)``, through the same runner
as ``sklearn-hier compare --n-workers N``. Before the clock starts, every
worker has imported the library, loaded the dataset and (on CUDA) created its
CUDA context, so the figure is the steady pace of fitting, scoring and
recording, not the cluster's start. Each run writes to a fresh folder (the mel
features are computed in it, once per fold, as in a real run).

On CPU each worker fits on one torch thread. With ``--device cuda`` every
worker uses the first GPU: N concurrent fits share one device (issue 15),
which pays while one small-batch fit leaves the GPU idle.

Prints the machine, then one table: workers, fits, wall seconds, fits/hour,
speed-up over the first row, mean seconds per fit (inside the worker).

Run: ``python benchmarks/bench_distributed.py`` (CPU, 1 vs 2 workers);
on a GPU machine ``python benchmarks/bench_distributed.py --device cuda --workers 1 2 4 8``.
Smaller: ``--losses PL PL+T --folds 2``.
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time

import torch

from sklearn_hier.experiments import PAPER_CONFIGS, CompareSettings, compare


def machine(device: str) -> str:
    """One line naming the machine, the device and the load when the run starts."""
    cpu = f"{platform.machine()} {platform.processor() or ''}".strip()
    line = f"{cpu}, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}, torch {torch.__version__}"
    if device.startswith("cuda"):
        line += f", GPU: {torch.cuda.get_device_name(torch.device(device))}"
    return line


def _warm(settings: CompareSettings) -> None:
    """Run on every worker: import, load the data, create the CUDA context."""
    from sklearn_hier.experiments._pairs import prepared

    prepared(settings)
    if settings.device.startswith("cuda"):
        torch.zeros(1, device=settings.device).sum().item()


def measure(settings: CompareSettings, n_workers: int) -> dict:
    """Wall time of one comparison on a fresh local cluster of ``n_workers`` warmed-up workers."""
    import distributed

    with (
        distributed.LocalCluster(
            n_workers=n_workers, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
        tempfile.TemporaryDirectory() as out,
    ):
        client.run(_warm, settings)
        start = time.perf_counter()
        result = compare(settings, out=out, verbose=0, scheduler=client)
        seconds = time.perf_counter() - start
    fit_times = [r["value"] for r in result["rows"] if r["metric"] == "fit_time"]
    return {"fits": len(fit_times), "seconds": seconds, "per_fit": sum(fit_times) / len(fit_times)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="concurrent fits to measure")
    parser.add_argument("--device", default="cpu", help="cpu or cuda[:N] (all workers share it)")
    parser.add_argument("--losses", nargs="+", default=list(PAPER_CONFIGS), help="configurations")
    parser.add_argument("--folds", type=int, default=3, help="UnseenLeafKFold splits")
    parser.add_argument("--max-epochs", type=int, help="epochs per fit (default: the quick settings')")
    args = parser.parse_args()
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        parser.error(f"--device {args.device} but CUDA is not available here.")
    overrides = {"dataset": "synthetic", "device": args.device, "losses": tuple(args.losses), "n_splits": args.folds}
    if args.max_epochs is not None:
        overrides["max_epochs"] = args.max_epochs
    settings = CompareSettings.quick_settings(**overrides)
    print(f"Machine: {machine(args.device)}")
    print(
        f"Run: quick synthetic comparison, {len(settings.losses)} configs x {settings.n_splits} folds, "
        f"{settings.max_epochs} epochs, device {args.device}, 1 torch thread per worker\n"
    )
    print("| workers | fits | wall s | fits/hour | speed-up | s per fit (in worker) |")
    print("|---:|---:|---:|---:|---:|---:|")
    base = None
    for n in args.workers:
        try:
            r = measure(settings, n)
        except Exception as error:  # one failed row (out of memory at 8 workers) should not hide the others
            print(f"| {n} | failed: {type(error).__name__}: {error} |||||", flush=True)
            continue
        rate = r["fits"] / r["seconds"] * 3600
        base = base or rate
        print(
            f"| {n} | {r['fits']} | {r['seconds']:.1f} | {rate:,.0f} | {rate / base:.2f}x | {r['per_fit']:.1f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
