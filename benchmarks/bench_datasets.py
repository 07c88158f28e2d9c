"""Time the dataset generators: synthetic sounds, the default soundfont render, a cached load.

The soundfont dataset is rendered into a fresh temporary data home (deleted at
the end), so the figure is a first render, then read back from the cache.

Run: python benchmarks/bench_datasets.py [--n-jobs 1 2]
"""

import argparse
import os
import platform
import shutil
import tempfile
import time

from _timing import best_of

from sklearn_hier.datasets import load_soundfont_instruments, make_hierarchical_sounds


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-jobs", type=int, nargs="+", default=[1, 2], help="render processes to time")
    args = parser.parse_args()
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPU cores, load average {os.getloadavg()[0]:.1f}")

    make_hierarchical_sounds(n_per_leaf=2, random_state=0)  # warm-up: imports, FFT plans
    seconds = best_of(lambda: make_hierarchical_sounds(n_per_leaf=56, random_state=0))
    print(f"make_hierarchical_sounds, 1,008 clips of 0.5 s at 16 kHz: {seconds:.3f} s")

    for n_jobs in args.n_jobs:
        home = tempfile.mkdtemp(prefix="bench-sklearn-hier-")
        try:
            start = time.perf_counter()
            bunch = load_soundfont_instruments(data_home=home, n_jobs=n_jobs, verbose=0)
            render = time.perf_counter() - start
            n_clips, gigabytes = len(bunch.target), bunch.data.nbytes / 1e9
            del bunch
            cached = best_of(lambda home=home: load_soundfont_instruments(data_home=home, verbose=0))
        finally:
            shutil.rmtree(home)
        print(
            f"load_soundfont_instruments() default, {n_clips} clips, n_jobs={n_jobs}: "
            f"render {render:.1f} s ({n_clips / render:.0f} clips/s), "
            f"cached load of {gigabytes:.2f} GB {cached:.2f} s; load average now {os.getloadavg()[0]:.1f}"
        )


if __name__ == "__main__":
    main()
