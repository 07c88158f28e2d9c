"""Scorers for ``cross_validate`` / ``GridSearchCV``: every hierarchy metric from one fitted model.

``cross_validate`` calls each scorer of a dict on its own, with the same
``(estimator, X, y)``. The scorers of one :func:`hierarchy_scorers` call share a
one-slot cache: the first scorer to see an ``(estimator, X, y)`` computes the
embeddings once, each group of scores (retrieval on seen or unseen clips,
F1 at a level, LSA accuracy) once, and for label sets ``predict_label_sets``
once per part (seen, unseen), for all the scorers of that call. The
cache refers to the model and the data weakly: scoring never keeps them alive.

It also holds the estimator-facing helpers that reach the hierarchical step of
what a scorer is given (:func:`final_step`, :func:`predict_at_lsa_level`), so
that the metric functions themselves take arrays only.
"""

from __future__ import annotations

import math
import weakref
from collections.abc import Sequence
from numbers import Integral
from typing import Any

import numpy as np
import torch
from sklearn.exceptions import UndefinedMetricWarning
from sklearn.pipeline import Pipeline
from sklearn.utils import _safe_indexing, check_consistent_length
from sklearn.utils._param_validation import Interval, StrOptions, validate_params
from sklearn.utils.validation import check_is_fitted

from sklearn_hier._warnings import warn_at_caller
from sklearn_hier.metrics._classification import level_f1_score, lsa_accuracy, lsa_depths
from sklearn_hier.metrics._multilabel_classification import multilabel_level_f1_score, multilabel_lsa_accuracy
from sklearn_hier.metrics._ranking import check_embeddings, check_labels, mean_of_kept, relevance_table
from sklearn_hier.metrics._retrieval import RetrievalRequest, ndcg_gain, ranked_scores
from sklearn_hier.nn.distances import SIMILARITIES, Distance, distance_of
from sklearn_hier.taxonomy import Taxonomy, is_multilabel, label_paths, label_sets

__all__ = ["final_step", "hierarchy_scorers", "predict_at_lsa_level"]

CONTRACT = ("transform", "predict_level")


def final_step(estimator: Any, X: Any) -> tuple[Any, Any]:
    """The fitted estimator that holds ``taxonomy_`` and the heads, and ``X`` as it receives it.

    For a :class:`~sklearn.pipeline.Pipeline`, ``X`` goes through every step but
    the last (``transform``), and the last step is returned.

    Raises
    ------
    TypeError
        If the final estimator lacks ``transform`` or ``predict_level``.
    sklearn.exceptions.NotFittedError
        If it has no ``taxonomy_`` yet.

    Examples
    --------
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> final_step(make_pipeline(StandardScaler()), [[0.0]])
    Traceback (most recent call last):
    ...
    TypeError: The final estimator must have transform and predict_level (a HierarchicalEmbedder); got StandardScaler.
    """
    final, Xt = estimator, X
    if isinstance(estimator, Pipeline):
        final = estimator[-1]
        if len(estimator) > 1:
            Xt = estimator[:-1].transform(X)
    missing = [name for name in CONTRACT if not callable(getattr(final, name, None))]
    if missing:
        raise TypeError(
            f"The final estimator must have {' and '.join(CONTRACT)} (a HierarchicalEmbedder); "
            f"got {type(final).__name__}."
        )
    check_is_fitted(final, "taxonomy_")
    return final, Xt


def lsa_level_predictions(final: Any, X: Any, paths: np.ndarray, source: str) -> np.ndarray:
    """Each clip's prediction by ``final`` at the depth of its LSA; None where that level has one node."""
    taxonomy = final.taxonomy_
    depth = lsa_depths(taxonomy.lowest_seen_ancestor(paths), taxonomy)
    out = np.full(len(paths), None, dtype=object)
    for level in sorted(set(depth.tolist()) & set(taxonomy.informative_levels)):
        rows = np.flatnonzero(depth == level)
        out[rows] = final.predict_level(_safe_indexing(X, rows), level, source=source)
    return out


@validate_params(
    {
        "estimator": [object],
        "X": ["array-like", object],
        "y": ["array-like"],
        "source": [StrOptions({"level", "leaf", "auto"})],
    },
    prefer_skip_nested_validation=True,
)
def predict_at_lsa_level(estimator: Any, X: Any, y: Any, *, source: str = "level") -> np.ndarray:
    """Predict each clip at the depth of its lowest seen ancestor (LSA).

    These are the predictions :func:`lsa_accuracy` scores. ``source="level"``
    asks the per-level head of that depth (Acc_aware: the model is told the
    level); ``source="leaf"`` takes the seen leaf the estimator predicts (by its
    ``leaf_source_`` route: the leaf head, or for models without one the
    deepest per-level head, as in the paper) and walks it up to that depth
    (Acc_blind).

    Parameters
    ----------
    estimator : fitted estimator or Pipeline
        Ends in an estimator with ``taxonomy_`` and ``predict_level(X, level,
        source=...)`` (a fitted ``HierarchicalEmbedder``).
    X : array-like
        Input of ``estimator``.
    y : array-like of shape (n_samples,) or (n_samples, depth)
        True label paths, which fix each clip's LSA.
    source : {"level", "leaf", "auto"}, default="level"
        Passed to ``predict_level``.

    Returns
    -------
    y_pred : ndarray of shape (n_samples,), dtype object
        Node keys; None for clips whose LSA sits at a level with a single node.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.base import BaseEstimator
    >>> from sklearn_hier.metrics import predict_at_lsa_level
    >>> from sklearn_hier.taxonomy import Taxonomy
    >>> class Fixed(BaseEstimator):  # a stand-in for a fitted HierarchicalEmbedder
    ...     taxonomy_ = Taxonomy.from_paths(["a/x", "b/y"])
    ...     def fit(self, X, y):
    ...         return self
    ...     def transform(self, X):
    ...         return np.asarray(X)
    ...     def predict_level(self, X, level, source="auto"):
    ...         return np.array(["a/x" if level == 2 else "a"] * len(X), dtype=object)
    >>> predict_at_lsa_level(Fixed(), [[0], [1]], ["a/q", "c/r"])
    array(['a', None], dtype=object)
    >>> predict_at_lsa_level(Fixed(), [[0]], ["a/x"])
    array(['a/x'], dtype=object)
    """
    final, Xt = final_step(estimator, X)
    paths = label_paths(y, final.taxonomy_.sep)
    return lsa_level_predictions(final, Xt, paths, source)


class _Evaluation:
    """Everything the scorers read from one fitted model on one scored set, computed on first use.

    Holds the estimator, its final step, X and y through weak references, so that
    a cached evaluation never keeps a model or its data alive after scoring;
    ``release`` is called as soon as any of them is collected (their ids could
    then be reused), and the owner drops the evaluation. An X or y that cannot
    be weakly referenced (a list) is held until the estimator goes.
    """

    def __init__(
        self, estimator: Any, X: Any, y: Any, k: int, metric: str | Distance, release: Any, warned: set | None = None
    ) -> None:
        check_consistent_length(X, y)
        # What the scorers of this hierarchy_scorers() call have warned about: once per run, not per fold.
        self.warned = set() if warned is None else warned
        final, Xt = final_step(estimator, X)
        self.k, self.distance = k, distance_of(final, metric)
        self.metric: str | Distance | None = None  # the ranking's, set with the embeddings
        self._refs = tuple(_weak(obj, release) for obj in (estimator, X, y))
        self._final = _weak(final, release)
        # A Pipeline's Xt is a fresh array only this evaluation holds; otherwise Xt is the caller's X.
        self._Xt = _weak(Xt, release) if Xt is X else (lambda: Xt)
        self.taxonomy = final.taxonomy_
        self.multilabel = is_multilabel(y)
        self.paths, seen = self._labels(y)
        self.rows = {"seen": np.flatnonzero(seen), "unseen": np.flatnonzero(~seen)}
        self._memo: dict[tuple[Any, ...], Any] = {}

    def _labels(self, y: Any) -> tuple[np.ndarray, np.ndarray]:
        """Each clip's label (a path, or a frozenset of paths for label sets) and whether the fit saw it.

        A path is seen when it is a leaf of ``taxonomy_``; a label set when
        each of its labels is a node of ``taxonomy_`` (labels may sit above
        the leaves in a set).
        """
        if not self.multilabel:
            paths = label_paths(y, self.taxonomy.sep)
            leaves = set(self.taxonomy.leaves)
            return paths, np.array([path in leaves for path in paths], dtype=bool)
        sets = label_sets(y, sep=self.taxonomy.sep)
        labels = np.empty(len(sets), dtype=object)
        labels[:] = sets
        nodes = set(self.taxonomy.nodes[1:])
        return labels, np.array([labelled <= nodes for labelled in sets], dtype=bool)

    def made_for(self, estimator: Any, X: Any, y: Any) -> bool:
        return all(ref() is obj for ref, obj in zip(self._refs, (estimator, X, y), strict=True))

    @property
    def final(self) -> Any:
        return self._final()

    @property
    def Xt(self) -> Any:
        return self._Xt()

    def _cached(self, key: tuple[Any, ...], compute: Any) -> Any:
        if key not in self._memo:
            self._memo[key] = compute()
        return self._memo[key]

    def embeddings(self) -> torch.Tensor:
        return self._cached(("embeddings",), self._embeddings)

    def _embeddings(self) -> torch.Tensor:
        embeddings, ranking = self.distance.for_ranking(self.final.transform(self.Xt))
        self.metric = ranking.as_metric()
        return check_embeddings(embeddings, self.metric)

    def retrieval(self, part: str) -> dict[str, float]:
        return self._cached(("retrieval", part), lambda: self._retrieval(part))

    def _retrieval(self, part: str) -> dict[str, float]:
        rows = self.rows[part]
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
        means = {name: mean_of_kept(values) for name, values in scores.items()}
        if not self.multilabel:  # the ceiling of RP@k is read from clips per leaf
            means["precision"] = self._checked_precision(means["precision"], tables.counts, part)
        return means

    def _checked_precision(self, precision: float, counts: torch.Tensor, part: str) -> float:
        """NaN, with a warning, where RP@k cannot be computed; a warning where no query can reach 1."""
        most = int(counts.max()) - 1  # relevant clips of the best-provided query
        name = f"precision_at_{self.k}{'' if part == 'seen' else '_unseen'}"
        if most == 0:
            if (name, "undefined") in self.warned:
                return math.nan
            self.warned.add((name, "undefined"))
            warn_at_caller(
                f"{name}: every leaf has a single clip among the {int(counts.sum())} {part} clips scored, "
                "so no query has a relevant clip to retrieve; returning NaN (said once per hierarchy_scorers() call).",
                UndefinedMetricWarning,
            )
            return math.nan
        if most < self.k and (name, "capped") not in self.warned:
            self.warned.add((name, "capped"))
            warn_at_caller(
                f"{name}: no leaf has more than {most + 1} {part} clips, so every query has fewer than "
                f"k={self.k} relevant clips and the score cannot reach 1; use a smaller k or more clips per leaf "
                "(said once per hierarchy_scorers() call).",
                UndefinedMetricWarning,
            )
        return precision

    def f1(self, level: int) -> float:
        return self._cached(("f1", level), lambda: self._f1(level))

    def _f1(self, level: int) -> float:
        rows = self.rows["seen"]
        if len(rows) == 0 or not 1 <= level <= self.taxonomy.depth:
            return math.nan
        if self.multilabel:
            if not self._predicts_label_sets("f1"):
                return math.nan
            pred = self.label_set_predictions("seen")
            return multilabel_level_f1_score(self.paths[rows].tolist(), pred, self.taxonomy, level=level)
        pred = self.final.predict_level(_safe_indexing(self.Xt, rows), level, source="auto")
        return level_f1_score(self.paths[rows], pred, level=level, sep=self.taxonomy.sep)

    def label_set_predictions(self, part: str) -> list[frozenset]:
        """``predict_label_sets`` of the clips of ``part``, once for every scorer that reads them."""
        rows = self.rows[part]
        return self._cached(("label sets", part), lambda: self.final.predict_label_sets(_safe_indexing(self.Xt, rows)))

    def lsa(self, source: str) -> float:
        return self._cached(("lsa", source), lambda: self._lsa(source))

    def _lsa(self, source: str) -> float:
        rows = self.rows["unseen"]
        if self.multilabel:
            return self._multilabel_lsa(source)
        # No per-level head was trained (losses without PL): there is no "aware" prediction to score.
        if len(rows) == 0 or (source == "level" and not getattr(self.final, "level_heads_trained_", True)):
            return math.nan
        paths = self.paths[rows]
        pred = lsa_level_predictions(self.final, _safe_indexing(self.Xt, rows), paths, source)
        return lsa_accuracy(paths, pred, self.taxonomy)

    def _multilabel_lsa(self, source: str) -> float:
        if source == "level":
            self._warn_once(
                "lsa_accuracy_aware",
                "lsa_accuracy_aware asks a per-level head for one node at the depth of each clip's lowest seen "
                "ancestor; a clip with label sets may have several there, and the estimator predicts sets only "
                "through predict_label_sets: returning NaN. lsa_accuracy_blind scores those sets.",
            )
            return math.nan
        rows = self.rows["unseen"]
        if len(rows) == 0 or not self._predicts_label_sets("lsa_accuracy"):
            return math.nan
        full = getattr(self.final, "taxonomy", None)
        full = full if isinstance(full, Taxonomy) else None
        if full is None and self.taxonomy.sep is None:
            self._warn_once(
                "lsa_accuracy_blind",
                "lsa_accuracy_blind: taxonomy_ is keyed by identities and the estimator holds no full taxonomy "
                "(its taxonomy parameter) to find the ancestors of the unseen labels in: returning NaN.",
            )
            return math.nan
        pred = self.label_set_predictions("unseen")
        return multilabel_lsa_accuracy(self.paths[rows].tolist(), pred, self.taxonomy, taxonomy=full)

    def _predicts_label_sets(self, name: str) -> bool:
        """Whether the final step has ``predict_label_sets``; if not, a warning once per hierarchy_scorers() call."""
        if callable(getattr(self.final, "predict_label_sets", None)):
            return True
        self._warn_once(
            name,
            f"{name} on label sets scores the estimator's predict_label_sets, which "
            f"{type(self.final).__name__} lacks: returning NaN. The retrieval scores (MNR, NDCG, RP@k) need only "
            "transform.",
        )
        return False

    def _warn_once(self, name: str, message: str) -> None:
        if (name, "label sets") not in self.warned:
            self.warned.add((name, "label sets"))
            warn_at_caller(f"{message} (said once per hierarchy_scorers() call)", UndefinedMetricWarning)


def _weak(obj: Any, release: Any) -> Any:
    """A weak reference to ``obj`` calling ``release`` when it goes, or a strong one where none can be made."""
    try:
        return weakref.ref(obj, release)
    except TypeError:  # lists, tuples, str: held as long as the evaluation
        return lambda: obj


class _SharedCache:
    """The one :class:`_Evaluation` the scorers of one :func:`hierarchy_scorers` call are working on."""

    def __init__(self, k: int, metric: str) -> None:
        self.k, self.metric = k, metric
        self._current: _Evaluation | None = None
        self.warned: set[tuple[str, str]] = set()

    def evaluation(self, estimator: Any, X: Any, y: Any) -> _Evaluation:
        current = self._current
        if current is None or not current.made_for(estimator, X, y):
            self._current = None  # the previous model's embeddings go before the next are computed
            current = self._current = _Evaluation(estimator, X, y, self.k, self.metric, self._release, self.warned)
        return current

    def _release(self, _: Any = None) -> None:
        self._current = None

    def __getstate__(self) -> dict[str, Any]:
        # A pickled copy (a joblib worker) starts empty rather than dragging a model and data along.
        return {"k": self.k, "metric": self.metric, "_current": None, "warned": set(self.warned)}


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
        "metric": [StrOptions({"auto", *SIMILARITIES}), Distance],
    },
    prefer_skip_nested_validation=True,
)
def hierarchy_scorers(
    k: int = 5, *, levels: int | Sequence[int] | None = None, metric: str | Distance = "auto"
) -> dict:
    """A ``scoring`` dict for ``cross_validate`` with every hierarchy metric of the paper.

    The scored clips are split by the fitted estimator's ``taxonomy_``: clips
    whose leaf it holds are *seen* (the test set of seen leaves), the others are
    *unseen* (the prediction set). The estimator may be a fitted
    ``HierarchicalEmbedder`` or a Pipeline ending in one: embeddings come from
    ``transform`` (through the whole pipeline), predictions from the last step's
    ``predict_level`` on X transformed by the earlier steps.

    ``y`` may hold label sets (:func:`~sklearn_hier.taxonomy.label_sets`), on
    a tree or a DAG: a clip is seen when each of its labels is a node of
    ``taxonomy_``, and the others are unseen. Then:

    - the retrieval scores (MNR, NDCG, RP@k) take relevance from the overlap
      of the clips' closures (see :func:`~sklearn_hier.metrics.mean_normalized_rank`);
      one label per clip given as sets scores exactly as the labels themselves;
    - the F1 scorers score the final step's ``predict_label_sets`` on the seen
      clips, level by level, on the closures' nodes at each depth of
      ``taxonomy_`` (:func:`multilabel_level_f1_score`, macro over the
      level's nodes): the per-level macro F1 of the single-label scorers,
      which it equals for one-label sets on a tree whenever the predicted set
      is one leaf that ``predict_level`` walks up;
    - ``lsa_accuracy_blind`` scores ``predict_label_sets`` on the unseen
      clips: the share of (clip, unseen label) pairs whose lowest seen
      ancestors all lie in the closure of the predicted set
      (:func:`multilabel_lsa_accuracy`; on a tree, whether the predicted set
      names the node the single-label score asks for). On a DAG keyed by
      identities, the unseen labels' ancestors are read from the final
      step's ``taxonomy`` parameter (the full taxonomy it was given);
    - ``lsa_accuracy_aware`` is NaN, with a warning: it asks a per-level head
      for one node at the LSA's depth, and a clip with several labels may
      have several LSAs there.

    A ``HierarchicalEmbedder`` fit on single labels predicts one-label sets
    (its predicted leaf), so a model fit on single notes is scored on
    mixtures too; an estimator without ``predict_label_sets`` gets NaN, with
    a warning, for the F1 and LSA scorers on label sets.

    Parameters
    ----------
    k : int, default=5
        Cut-off of the retrieval precision (RP@k).
    levels : int or array-like of int, default=None
        Depths that get their own macro-F1 scorer ``f1_macro_level_<d>`` (an int
        ``n`` means 1..n). None gives ``f1_macro_mean`` (the mean over the
        training tree's informative levels) and ``f1_macro_leaf`` (its deepest
        level) instead, which need no knowledge of the tree in advance.
    metric : {"auto", "cosine", "dot", "euclidean", "poincare"}, default="auto"
        Similarity of the retrieval metrics. ``"auto"`` reads the fitted final
        step's ``metric_`` (a ``HierarchicalEmbedder``'s resolved metric:
        ``"poincare"`` for ``geometry="poincare"``), and ``"cosine"`` (the
        paper's) for an estimator without one. Under ``"poincare"`` the
        embeddings are first multiplied by ``sqrt(curvature_)`` (the final
        step's curvature, 1 without one), which puts them on the unit ball
        and keeps their ranking.

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
          (see ``levels``; for label sets, of ``predict_label_sets``, above);
        - ``lsa_accuracy_aware`` and ``lsa_accuracy_blind``: :func:`lsa_accuracy`
          on unseen clips, predicted by the per-level head and by the predicted
          leaf (``leaf_source_``) walked up (for label sets, above).

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
