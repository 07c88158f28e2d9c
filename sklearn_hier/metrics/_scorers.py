"""Scorers for ``cross_validate`` / ``GridSearchCV``: every hierarchy metric from one fitted model.

``cross_validate`` calls each scorer of a dict on its own, with the same
``(estimator, X, y)``. The scorers of one :func:`hierarchy_scorers` call share a
one-slot cache: the first scorer to see an ``(estimator, X, y)`` computes the
embeddings once, and each group of scores (retrieval on seen or unseen clips,
F1 at a level, LSA accuracy) once, for all the scorers of that call.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from numbers import Integral
from typing import Any

import numpy as np
import torch
from sklearn.utils import _safe_indexing
from sklearn.utils._param_validation import Interval, StrOptions, validate_params

from sklearn_hier.metrics._classification import level_f1_score, lsa_accuracy, lsa_level_predictions
from sklearn_hier.metrics._estimator import final_step
from sklearn_hier.metrics._ranking import check_embeddings, check_labels, mean_of_kept, relevance_table
from sklearn_hier.metrics._retrieval import RetrievalRequest, ndcg_gain, ranked_scores
from sklearn_hier.nn.distances import SIMILARITIES
from sklearn_hier.taxonomy import label_paths

__all__ = ["hierarchy_scorers"]


class _Evaluation:
    """Everything the scorers read from one fitted model on one scored set, computed on first use.

    Holds strong references to the estimator, X and y it was made for, so that
    no other object can take their ids while it is cached.
    """

    def __init__(self, estimator: Any, X: Any, y: Any, k: int, metric: str) -> None:
        self.estimator, self.X, self.y = estimator, X, y
        self.k, self.metric = k, metric
        self.final, self.Xt = final_step(estimator, X)
        self.taxonomy = self.final.taxonomy_
        self.paths = label_paths(y, self.taxonomy.sep)
        seen_leaves = set(self.taxonomy.leaves)
        self.rows = {
            "seen": np.flatnonzero([path in seen_leaves for path in self.paths]),
            "unseen": np.flatnonzero([path not in seen_leaves for path in self.paths]),
        }
        self._memo: dict[tuple[Any, ...], Any] = {}

    def _cached(self, key: tuple[Any, ...], compute: Any) -> Any:
        if key not in self._memo:
            self._memo[key] = compute()
        return self._memo[key]

    def embeddings(self) -> torch.Tensor:
        return self._cached(("embeddings",), lambda: check_embeddings(self.final.transform(self.Xt)))

    def retrieval(self, part: str) -> dict[str, float]:
        return self._cached(("retrieval", part), lambda: self._retrieval(self.rows[part]))

    def _retrieval(self, rows: np.ndarray) -> dict[str, float]:
        if len(rows) < 2:
            return {"mnr": math.nan, "ndcg": math.nan, "precision": math.nan}
        embeddings = self.embeddings()[torch.as_tensor(rows, device=self.embeddings().device)]
        taxonomy, tables = check_labels(self.paths[rows], len(rows), self.taxonomy.sep, embeddings.device)
        # MNR averages the training tree's informative levels, as far down as this set's tree goes.
        levels = tuple(level for level in self.taxonomy.informative_levels if level <= taxonomy.depth)
        request = RetrievalRequest(
            mnr_levels=levels,
            gain=ndcg_gain(tables, "lca_depth"),
            relevant=relevance_table(tables, -1),
            precision_k=self.k,
        )
        scores = ranked_scores(embeddings, tables, request, self.metric)
        if not levels:
            scores["mnr"] = torch.full_like(scores["ndcg"], math.nan)
        return {name: mean_of_kept(values) for name, values in scores.items()}

    def f1(self, level: int) -> float:
        return self._cached(("f1", level), lambda: self._f1(level))

    def _f1(self, level: int) -> float:
        rows = self.rows["seen"]
        if len(rows) == 0 or not 1 <= level <= self.taxonomy.depth:
            return math.nan
        pred = self.final.predict_level(_safe_indexing(self.Xt, rows), level, source="auto")
        return level_f1_score(self.paths[rows], pred, level=level, sep=self.taxonomy.sep)

    def lsa(self, source: str) -> float:
        return self._cached(("lsa", source), lambda: self._lsa(source))

    def _lsa(self, source: str) -> float:
        rows = self.rows["unseen"]
        # No per-level head was trained (losses without PL): there is no "aware" prediction to score.
        if len(rows) == 0 or (source == "level" and not getattr(self.final, "level_heads_trained_", True)):
            return math.nan
        paths = self.paths[rows]
        pred = lsa_level_predictions(self.final, _safe_indexing(self.Xt, rows), paths, source)
        return lsa_accuracy(paths, pred, self.taxonomy)


class _SharedCache:
    """The one :class:`_Evaluation` the scorers of one :func:`hierarchy_scorers` call are working on."""

    def __init__(self, k: int, metric: str) -> None:
        self.k, self.metric = k, metric
        self._current: _Evaluation | None = None

    def evaluation(self, estimator: Any, X: Any, y: Any) -> _Evaluation:
        current = self._current
        if current is None or current.estimator is not estimator or current.X is not X or current.y is not y:
            current = self._current = _Evaluation(estimator, X, y, self.k, self.metric)
        return current

    def __getstate__(self) -> dict[str, Any]:
        # A pickled copy (a joblib worker) starts empty rather than dragging a model and data along.
        return {"k": self.k, "metric": self.metric, "_current": None}


class HierarchyScorer:
    """One entry of :func:`hierarchy_scorers`: ``scorer(estimator, X, y) -> float``.

    Parameters
    ----------
    name : str
        Key of the scorer in its dict.
    cache : _SharedCache
        Shared by the scorers of one :func:`hierarchy_scorers` call.
    measure : {"mnr", "ndcg", "precision", "f1", "f1_mean", "f1_leaf", "lsa"}
        What it reads from the shared evaluation.
    option : str or int or None
        ``"seen"``/``"unseen"`` for retrieval, a depth for ``"f1"``, the
        ``predict_level`` source for ``"lsa"``.
    sign : float
        -1 for losses (MNR), so that greater is better.
    """

    def __init__(self, name: str, cache: _SharedCache, measure: str, option: Any, sign: float = 1.0) -> None:
        self.name, self.cache, self.measure, self.option, self.sign = name, cache, measure, option, sign

    def __call__(self, estimator: Any, X: Any, y: Any, sample_weight: Any = None) -> float:
        if sample_weight is not None:
            raise ValueError(f"Scorer {self.name!r} does not support sample_weight.")
        evaluation = self.cache.evaluation(estimator, X, y)
        return self.sign * self._value(evaluation)

    def _value(self, evaluation: _Evaluation) -> float:
        if self.measure in ("mnr", "ndcg", "precision"):
            return evaluation.retrieval(self.option)[self.measure]
        if self.measure == "f1":
            return evaluation.f1(self.option)
        if self.measure == "f1_leaf":
            return evaluation.f1(evaluation.taxonomy.depth)
        if self.measure == "f1_mean":
            scores = [evaluation.f1(level) for level in evaluation.taxonomy.informative_levels]
            return float(np.mean(scores)) if scores else math.nan
        return evaluation.lsa(self.option)

    def __repr__(self) -> str:
        return f"HierarchyScorer({self.name!r})"


@validate_params(
    {
        "k": [Interval(Integral, 1, None, closed="left")],
        "levels": [Interval(Integral, 1, None, closed="left"), "array-like", None],
        "metric": [StrOptions(set(SIMILARITIES))],
    },
    prefer_skip_nested_validation=True,
)
def hierarchy_scorers(k: int = 5, *, levels: int | Sequence[int] | None = None, metric: str = "cosine") -> dict:
    """A ``scoring`` dict for ``cross_validate`` with every hierarchy metric of the paper.

    The scored clips are split by the fitted estimator's ``taxonomy_``: clips
    whose leaf it holds are *seen* (the test set of seen leaves), the others are
    *unseen* (the prediction set). The estimator may be a fitted
    ``HierarchicalEmbedder`` or a Pipeline ending in one: embeddings come from
    ``transform`` (through the whole pipeline), predictions from the last step's
    ``predict_level`` on X transformed by the earlier steps.

    Parameters
    ----------
    k : int, default=5
        Cut-off of the retrieval precision (RP@k).
    levels : int or array-like of int, default=None
        Depths that get their own macro-F1 scorer ``f1_macro_level_<d>`` (an int
        ``n`` means 1..n). None gives ``f1_macro_mean`` (the mean over the
        training tree's informative levels) and ``f1_macro_leaf`` (its deepest
        level) instead, which need no knowledge of the tree in advance.
    metric : {"cosine", "dot", "euclidean"}, default="cosine"
        Similarity of the retrieval metrics.

    Returns
    -------
    scorers : dict of str to callable
        ``scorer(estimator, X, y) -> float``, greater is better:

        - ``neg_mean_normalized_rank``, ``ndcg``, ``precision_at_<k>``: on seen
          clips (:func:`mean_normalized_rank` negated, levels of the training
          tree; :func:`hierarchical_ndcg_score` with LCA-depth relevance;
          :func:`precision_at_k` at the leaf);
        - the same three with the suffix ``_unseen``: on unseen clips;
        - macro F1 of ``predict_level(X, level, source="auto")`` on seen clips
          (see ``levels``);
        - ``lsa_accuracy_aware`` and ``lsa_accuracy_blind``: :func:`lsa_accuracy`
          on unseen clips, predicted by the per-level head and by the leaf head.

        A scorer whose clips are missing (no unseen clip, or fewer than 2 for
        retrieval), or ``lsa_accuracy_aware`` for a model whose
        ``level_heads_trained_`` is False (no PL term), returns NaN instead
        of raising; ``cross_validate`` then reports NaN for that fold.

    Examples
    --------
    >>> from sklearn_hier.metrics import hierarchy_scorers
    >>> sorted(hierarchy_scorers(k=5))[:4]
    ['f1_macro_leaf', 'f1_macro_mean', 'lsa_accuracy_aware', 'lsa_accuracy_blind']
    >>> [name for name in hierarchy_scorers(levels=2) if name.startswith("f1")]
    ['f1_macro_level_1', 'f1_macro_level_2']
    """
    cache = _SharedCache(k, metric)
    specs: list[tuple[str, str, Any, float]] = []
    for part, suffix in (("seen", ""), ("unseen", "_unseen")):
        specs += [
            (f"neg_mean_normalized_rank{suffix}", "mnr", part, -1.0),
            (f"ndcg{suffix}", "ndcg", part, 1.0),
            (f"precision_at_{k}{suffix}", "precision", part, 1.0),
        ]
    if levels is None:
        specs += [("f1_macro_mean", "f1_mean", None, 1.0), ("f1_macro_leaf", "f1_leaf", None, 1.0)]
    else:
        depths = list(range(1, levels + 1)) if isinstance(levels, Integral) else [int(d) for d in np.ravel(levels)]
        if not depths or min(depths) < 1:
            raise ValueError(f"levels must be depths of at least 1; got {levels!r}.")
        specs += [(f"f1_macro_level_{d}", "f1", d, 1.0) for d in depths]
    specs += [("lsa_accuracy_aware", "lsa", "level", 1.0), ("lsa_accuracy_blind", "lsa", "leaf", 1.0)]
    return {name: HierarchyScorer(name, cache, measure, option, sign) for name, measure, option, sign in specs}
