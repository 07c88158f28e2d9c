"""Redraw the plots of ``soundfont-cpu/`` with the current Display classes.

``metrics.png`` comes from ``results.csv``. ``projection.png`` and ``similarity.png`` need
the embeddings of fold 0's test clips for the best configuration, which the committed results
leave out (they stay in the run's ``runs/`` folder); ``--refit`` makes them again: it fits that
one configuration on fold 0 with the settings recorded in ``run.json`` (about 10 minutes on a
2-core CPU, most of it rendering the soundfont dataset once) and saves them to
``soundfont-cpu/fold0_embeddings.npz``, which the plots then read.

Run from the repository root: ``python docs/results/redraw_plots.py [--refit]``.
"""

import csv
import json
import sys
from pathlib import Path

import matplotlib
import numpy as np

matplotlib.use("Agg")

from sklearn_hier.experiments import TABLE_COLUMNS  # noqa: E402
from sklearn_hier.plotting import (  # noqa: E402
    EmbeddingProjectionDisplay,
    LevelSimilarityDisplay,
    MetricComparisonDisplay,
)

HERE = Path(__file__).resolve().parent / "soundfont-cpu"
BEST = "PL+B+T"  # best NDCG in summary.md, as compare() picks it
EMBEDDINGS = HERE / "fold0_embeddings.npz"


def redraw_metrics() -> None:
    with open(HERE / "results.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    keys = [key for _, key, _ in TABLE_COLUMNS]
    title = "Soundfont dataset, 5 folds over unseen leaves (2-core CPU settings)"
    disp = MetricComparisonDisplay.from_results(rows, metrics=keys, title=title)
    disp.figure_.savefig(HERE / "metrics.png", dpi=120)


def refit_fold0() -> None:
    import torch

    from sklearn_hier.experiments import CompareSettings, make_pipeline
    from sklearn_hier.experiments._pairs import _load_dataset, _splits

    torch.set_num_threads(1)  # as benchmarks/run_compare_cpu.py ran it
    recorded = json.loads((HERE / "run.json").read_text())["settings"]
    recorded["losses"] = tuple(recorded["losses"])
    settings = CompareSettings(**recorded)
    X, y = _load_dataset(settings, verbose=1)
    train, test = _splits(settings, X, y)[0]
    pipe = make_pipeline(settings, BEST).fit(X[train], y[train])
    np.savez(EMBEDDINGS, Z=pipe.transform(X[test]), y=y[test])


def redraw_embeddings() -> None:
    with np.load(EMBEDDINGS, allow_pickle=True) as data:
        Z, y = data["Z"], data["y"]
    projection = EmbeddingProjectionDisplay.from_embeddings(
        Z, y, title=f"{BEST}, fold 0 test clips: PCA of the embeddings"
    )
    projection.figure_.savefig(HERE / "projection.png", dpi=120)
    similarity = LevelSimilarityDisplay.from_embeddings(
        Z, y, level=2, title=f"{BEST}, fold 0 test clips: mean cosine similarity between instruments"
    )
    similarity.figure_.savefig(HERE / "similarity.png", dpi=120)


if __name__ == "__main__":
    redraw_metrics()
    if "--refit" in sys.argv[1:]:
        refit_fold0()
    if EMBEDDINGS.exists():
        redraw_embeddings()
