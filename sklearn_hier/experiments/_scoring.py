"""What a comparison scores: the hierarchy scores, and on label sets the tagging scores of the fitted heads.

On one label per clip this is every scorer of
:func:`~sklearn_hier.metrics.hierarchy_scorers`: the columns of the paper's
Table I. On label sets the same scorers read the clips' closures (retrieval)
and the predicted label sets (F1, the blind accuracy), except
``lsa_accuracy_aware``, which asks a per-level head for one node per clip and
is left out; the tagging scores of
:func:`~sklearn_hier.metrics.tagging_scorers` (lwlrap and mAP of
``predict_proba``) join them, on the test clips whose labels the fit has
classes for.
"""

from __future__ import annotations

import math
from typing import Any

from sklearn.utils import _safe_indexing

from sklearn_hier.metrics import hierarchy_scorers, tagging_scorers
from sklearn_hier.taxonomy import label_sets

__all__ = ["ONE_LABEL_PER_CLIP", "ComparisonScoring"]

# The hierarchy scorers with no meaning on label sets (NaN there, with a warning): left out of those runs.
ONE_LABEL_PER_CLIP = ("lsa_accuracy_aware",)


class ComparisonScoring:
    """The ``scoring`` of a comparison's ``cross_validate``: ``scoring(estimator, X, y) -> {name: score}``.

    One callable returning every score, so that the tagging scores can be
    given the seen test clips alone, while the hierarchy scorers split the
    clips into seen and unseen themselves.

    Parameters
    ----------
    label_sets : bool
        Whether ``y`` holds label sets (see the module docstring).
    k : int
        Cut-off of RP@k.

    Examples
    --------
    >>> names = ComparisonScoring(label_sets=True, k=5).names
    >>> "lsa_accuracy_aware" in names, names[-2:]
    (False, ['lwlrap', 'mean_average_precision'])
    >>> len(ComparisonScoring(label_sets=False, k=5).names)  # all of hierarchy_scorers()
    10
    """

    def __init__(self, label_sets: bool, k: int) -> None:
        self.label_sets = label_sets
        scorers = hierarchy_scorers(k)
        self.scorers = {n: s for n, s in scorers.items() if not (label_sets and n in ONE_LABEL_PER_CLIP)}
        self.tagging = tagging_scorers() if label_sets else {}

    @property
    def names(self) -> list[str]:
        """The keys of the scores, in the order they are returned."""
        return [*self.scorers, *self.tagging]

    def __call__(self, estimator: Any, X: Any, y: Any) -> dict[str, float]:
        scores = {name: scorer(estimator, X, y) for name, scorer in self.scorers.items()}
        if self.tagging:
            scores |= self._tagging_scores(estimator, X, y)
        return scores

    def _tagging_scores(self, estimator: Any, X: Any, y: Any) -> dict[str, float]:
        """lwlrap and mAP on the clips whose every label is a class of the fit; NaN without any.

        A clip carrying a held-out label has no column of ``predict_proba`` for
        it: scoring it on its other labels alone would mix unseen clips into
        the seen scores, so it is left to the unseen columns.
        """
        classes = set(estimator.classes_.tolist())
        rows = [i for i, labels in enumerate(label_sets(y)) if labels <= classes]
        if not rows:
            return dict.fromkeys(self.tagging, math.nan)
        Xs, ys = _safe_indexing(X, rows), _safe_indexing(y, rows)
        return {name: scorer(estimator, Xs, ys) for name, scorer in self.tagging.items()}
