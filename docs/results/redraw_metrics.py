"""Redraw ``soundfont-cpu/metrics.png`` from ``soundfont-cpu/results.csv`` with the current Display.

Run from the repository root: ``python docs/results/redraw_metrics.py``. The metrics are the
columns of the results table, in its order.
"""

import csv
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

from sklearn_hier.experiments import TABLE_COLUMNS  # noqa: E402
from sklearn_hier.plotting import MetricComparisonDisplay  # noqa: E402

HERE = Path(__file__).resolve().parent / "soundfont-cpu"


def main() -> None:
    with open(HERE / "results.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    keys = [key for _, key, _ in TABLE_COLUMNS]
    title = "Soundfont dataset, 5 folds over unseen leaves (2-core CPU settings)"
    disp = MetricComparisonDisplay.from_results(rows, metrics=keys, title=title)
    disp.figure_.savefig(HERE / "metrics.png", dpi=120)


if __name__ == "__main__":
    main()
