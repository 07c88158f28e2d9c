"""What a comparison scores: the hierarchy scores, and on label sets the tagging scores of the fitted heads.

On one label per clip this is every scorer of
:func:`~sklearn_hier.metrics.hierarchy_scorers`: the columns of the paper's
Table I. On label sets its retrieval scores (MNR, NDCG, RP@k), which read the
clips' closures, are kept and its F1 and lowest-seen-ancestor accuracies,
which read one label per clip, are left out; three tagging scores of the test
clips of seen labels take their place (:func:`tagging_scores`).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from sklearn.pipeline import Pipeline
from sklearn.utils import _safe_indexing

from sklearn_hier.metrics import (
    hierarchy_scorers,
    lwlrap_score,
    mean_average_precision,
    multilabel_hierarchical_f1_score,
)
from sklearn_hier.metrics._scorers import final_step
from sklearn_hier.taxonomy import label_sets

__all__ = ["RETRIEVAL_SCORES", "TAGGING_SCORES", "ComparisonScoring", "tagging_scores"]

# The hierarchy scorers that read label sets: retrieval, by closure overlap (seen and unseen clips).
RETRIEVAL_SCORES = ("neg_mean_normalized_rank", "ndcg", "precision_at_")
TAGGING_SCORES = ("lwlrap", "mean_average_precision", "hierarchical_f1")


class ComparisonScoring:
    """The ``scoring`` of a comparison's ``cross_validate``: ``scoring(estimator, X, y) -> {name: score}``.

    One callable returning every score, so that the tagging scores share one
    pass of the model over the test clips, as the hierarchy scorers share theirs.

    Parameters
    ----------
    label_sets : bool
        Whether ``y`` holds label sets (see the module docstring).
    k : int
        Cut-off of RP@k.

    Examples
    --------
    >>> sorted(ComparisonScoring(label_sets=True, k=5).scorers)[:3]
    ['ndcg', 'ndcg_unseen', 'neg_mean_normalized_rank']
    >>> len(ComparisonScoring(label_sets=False, k=5).scorers)  # all of hierarchy_scorers()
    10
    """

    def __init__(self, label_sets: bool, k: int) -> None:
        self.label_sets = label_sets
        scorers = hierarchy_scorers(k)
        if label_sets:
            scorers = {name: scorer for name, scorer in scorers.items() if name.startswith(RETRIEVAL_SCORES)}
        self.scorers = scorers

    def __call__(self, estimator: Any, X: Any, y: Any) -> dict[str, float]:
        scores = {name: scorer(estimator, X, y) for name, scorer in self.scorers.items()}
        if self.label_sets:
            scores |= tagging_scores(estimator, X, y)
        return scores


def tagging_scores(estimator: Any, X: Any, y: Any) -> dict[str, float]:
    """lwlrap, mAP and hierarchical F1 of a model fit on label sets, on the clips whose labels it saw.

    A clip is seen when each of its labels is a node of the fitted
    ``taxonomy_``, as :func:`~sklearn_hier.metrics.hierarchy_scorers` has it;
    a clip carrying a held-out label is left out, since no head has a class
    for that label. The truth of a class is whether it lies in the clip's
    ancestor closure, so a model whose ``classes_`` are inner nodes too is
    scored by the same rule as one whose classes are the leaves.

    Parameters
    ----------
    estimator : fitted Pipeline or HierarchicalEmbedder
        Its final step has ``taxonomy_``, ``classes_`` (node keys),
        ``predict_proba`` (one column per class) and ``predict_label_sets``.
    X : array-like
        Input of ``estimator``.
    y : sequence of label sets

    Returns
    -------
    scores : dict
        ``lwlrap`` (:func:`~sklearn_hier.metrics.lwlrap_score`) and
        ``mean_average_precision`` of ``predict_proba``; ``hierarchical_f1``,
        the micro :func:`~sklearn_hier.metrics.multilabel_hierarchical_f1_score`
        of ``predict_label_sets``. NaN when no scored clip is seen.
    """
    taxonomy = (estimator[-1] if isinstance(estimator, Pipeline) else estimator).taxonomy_
    sets = label_sets(y, sep=taxonomy.sep)
    nodes = set(taxonomy.nodes[1:])
    rows = [i for i, labels in enumerate(sets) if labels <= nodes]
    if not rows:
        return dict.fromkeys(TAGGING_SCORES, math.nan)
    seen = [sets[i] for i in rows]
    # Only the seen clips go through the pipeline: in a fold most test clips carry a held-out label.
    final, Xs = final_step(estimator, _safe_indexing(X, rows))
    column = {node: j for j, node in enumerate(taxonomy.nodes[1:])}
    truth = taxonomy.closure_multi_hot(seen)[:, [column[c] for c in final.classes_]] > 0
    proba = np.asarray(final.predict_proba(Xs), dtype=np.float64)
    return {
        "lwlrap": lwlrap_score(truth, proba),
        "mean_average_precision": mean_average_precision(truth, proba),
        "hierarchical_f1": multilabel_hierarchical_f1_score(seen, final.predict_label_sets(Xs), taxonomy),
    }
