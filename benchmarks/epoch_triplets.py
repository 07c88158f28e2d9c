"""Tree triplets per epoch, under the paper's rule and the one-order rule this package used before 2026-12-03.

Prints, for the training part of each fold of OrchideaSOL (its leaf counts, kept in ``tests/data``),
of ``docs/results/soundfont-cpu`` (its ``run.json`` settings) and of the tree that
``bench_training.py``'s paper part trains on, the triplets one epoch of
:class:`~sklearn_hier.nn.TreeTripletSampler` draws (both orders of each anchor/positive pair
of children, as the paper's code) and the count under the old rule (each pair in one order), with
the RP@5 ceiling of each soundfont fold. The counts before and after in ``docs/user_guide.md``,
``docs/results/README.md`` ("What moved") and ``docs/performance.md`` come from here.

Run from the repository root: ``python benchmarks/epoch_triplets.py`` (a minute once the soundfont
set is rendered).
"""

import json
import sys
from math import comb
from pathlib import Path

import numpy as np

from sklearn_hier.experiments import CompareSettings
from sklearn_hier.experiments._pairs import precision_ceiling, prepared
from sklearn_hier.model_selection import UnseenLeafKFold
from sklearn_hier.nn import TreeTripletSampler
from sklearn_hier.taxonomy import Taxonomy

sys.path.insert(0, str(Path(__file__).parent))
from bench_training import full_tree  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "docs" / "results"


def one_order_count(tax: Taxonomy, y: np.ndarray) -> int:
    """Triplets per epoch when each pair of a positive child's children is taken in one order only."""
    under = dict.fromkeys(tax.nodes, 0)
    for path, n in zip(*np.unique(y, return_counts=True), strict=True):
        for node in ("", *tax.ancestors(path), path):
            under[node] += int(n)

    def kids(node: str) -> list[str]:
        return [k for k in tax.children(node) if under[k] > 0]

    total = 0
    for parent in tax.nodes:
        for pos in kids(parent):
            m = len(kids(pos))
            total += (comb(m, 2) if m >= 2 else int(under[pos] >= 2)) * (len(kids(parent)) - 1)
    return total


def counts(y_train: np.ndarray) -> tuple[int, int]:
    tax = Taxonomy.from_paths(sorted(set(y_train)))
    return TreeTripletSampler(tax, tax.encode(y_train)).n_triplets, one_order_count(tax, y_train)


def orchideasol_clips() -> np.ndarray:
    """One label path per clip of OrchideaSOL2020, from the leaf counts the tests keep (no audio needed)."""
    lines = (ROOT / "tests" / "data" / "orchideasol_leaf_counts.csv").read_text().splitlines()
    rows = [line.rsplit(",", 1) for line in lines if line and not line.startswith("#")][1:]
    return np.repeat(np.array([path for path, _ in rows], dtype=object), [int(n) for _, n in rows])


def main() -> None:
    y = orchideasol_clips()
    cv = UnseenLeafKFold(n_splits=5, min_samples_leaf=10, test_size=0.1, random_state=2024)
    print("OrchideaSOL folds (UnseenLeafKFold(5, min_samples_leaf=10, random_state=2024), training part):")
    for fold, (train, _) in enumerate(cv.split(np.zeros((len(y), 1)), y)):
        both, one = counts(y[train])
        print(f"  fold {fold}: {both:,} / {one:,}")
    recorded = json.loads((RESULTS / "soundfont-cpu" / "run.json").read_text())["settings"]
    recorded["losses"] = tuple(recorded["losses"])
    settings = CompareSettings(**{k: v for k, v in recorded.items() if k in CompareSettings.__dataclass_fields__})
    _, y, splits = prepared(settings)
    print("soundfont-cpu folds (training part): triplets per epoch, paper's rule / one-order rule; RP@5 ceiling")
    for fold, (train, test) in enumerate(splits):
        both, one = counts(y[train])
        ceiling = precision_ceiling(y[train], y[test])
        print(f"  fold {fold}: {both:,} / {one:,} ({both / one:.2f}x); ceiling {ceiling:.3f}")
    _, y, _ = full_tree((8, 4, 6), clips_per_leaf=60)
    train, _ = next(UnseenLeafKFold(n_splits=5, random_state=0).split(np.zeros((len(y), 1)), y))
    both, one = counts(y[train])
    print(f"bench_training paper part (8 x 4 x 6 leaves, fold 0): {both:,} / {one:,} ({both / one:.2f}x)")


if __name__ == "__main__":
    main()
