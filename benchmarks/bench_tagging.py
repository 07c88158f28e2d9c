"""Time of the multi-label tagging scores against scikit-learn, in the same run.

- lwlrap: ``lwlrap_score`` against ``label_ranking_average_precision_score``
  with each clip's number of positive labels as its weight (the same number);
- mAP: ``mean_average_precision`` against ``average_precision_score`` called
  on each class with a positive (the same number);
- hierarchical P/R/F: ``multilabel_hierarchical_precision_recall_fscore`` on
  label sets of 3 leaves per clip, against the single-label
  ``hierarchical_precision_recall_fscore`` on one leaf per clip.

The data look like FSD50K's: 1 to 3 positive labels per clip, float32 scores
that favour the positives. Each time is the best of ``--repeat`` calls (the
least disturbed by other processes); "load" is the 1-minute load average at
the end, since the cores may be shared. The script checks that ours and
scikit-learn's agree before timing.

Run: python benchmarks/bench_tagging.py [--clips 50000] [--classes 200] [--repeat 3]
"""

import argparse
import os
import platform

import numpy as np
from _timing import best_of
from sklearn.metrics import average_precision_score, label_ranking_average_precision_score

from sklearn_hier.metrics import (
    hierarchical_precision_recall_fscore,
    lwlrap_score,
    mean_average_precision,
    multilabel_hierarchical_precision_recall_fscore,
)
from sklearn_hier.taxonomy import Taxonomy


def tagging_data(n_clips, n_classes, seed=0):
    rng = np.random.default_rng(seed)
    y_true = np.zeros((n_clips, n_classes), dtype=bool)
    n_labels = rng.integers(1, 4, n_clips)
    for k in range(3):  # up to 3 distinct classes per clip, drawn without a loop over clips
        rows = np.flatnonzero(n_labels > k)
        y_true[rows, rng.integers(0, n_classes, len(rows))] = True
    y_score = (rng.random((n_clips, n_classes)) + 0.5 * y_true).astype(np.float32)
    return y_true, y_score


def sklearn_map(y_true, y_score):
    kept = np.flatnonzero(y_true.any(axis=0))
    return float(np.mean([average_precision_score(y_true[:, c], y_score[:, c]) for c in kept]))


def label_sets(n_clips, seed=0):
    """An OrchideaSOL-like tree (about 200 leaves) and 3 leaves per clip, true and predicted."""
    rng = np.random.default_rng(seed)
    leaves = [
        f"F{f}/I{f}{i}/M{m}/T{t}"
        for f, n_instruments in enumerate([3, 3, 2, 4, 4])
        for i in range(n_instruments)
        for m in range(3)
        for t in range(4)
    ]
    taxonomy = Taxonomy.from_paths(leaves)
    leaves = np.array(leaves, dtype=object)
    true = leaves[rng.integers(0, len(leaves), (n_clips, 3))]
    pred = leaves[rng.integers(0, len(leaves), (n_clips, 3))]
    return taxonomy, true, pred


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=50_000)
    parser.add_argument("--classes", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    y_true, y_score = tagging_data(args.clips, args.classes)
    weights = y_true.sum(axis=1)
    taxonomy, true, pred = label_sets(args.clips)
    true_sets, pred_sets = [set(row) for row in true], [set(row) for row in pred]

    pairs = {
        "lwlrap": (
            lambda: lwlrap_score(y_true, y_score),
            lambda: label_ranking_average_precision_score(y_true, y_score, sample_weight=weights),
        ),
        "mAP": (lambda: mean_average_precision(y_true, y_score), lambda: sklearn_map(y_true, y_score)),
        "hier. P/R/F (3 labels vs 1)": (
            lambda: multilabel_hierarchical_precision_recall_fscore(true_sets, pred_sets, taxonomy),
            lambda: hierarchical_precision_recall_fscore(true[:, 0], pred[:, 0]),
        ),
    }
    for name in ("lwlrap", "mAP"):
        ours, theirs = (f() for f in pairs[name])
        assert abs(ours - theirs) < 1e-9, (name, ours, theirs)

    print(f"{args.clips} clips x {args.classes} classes; numpy {np.__version__}")
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores")
    print(f"{'score':<30}{'ours (s)':>10}{'reference (s)':>15}{'reference / ours':>18}")
    for name, (ours, theirs) in pairs.items():
        t_ours, t_theirs = best_of(ours, args.repeat), best_of(theirs, args.repeat)
        print(f"{name:<30}{t_ours:>10.3f}{t_theirs:>15.3f}{t_theirs / t_ours:>18.1f}")
    print(f"load (1 min): {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
