"""hierarchy_scorers with cross_validate, on a minimal contract estimator and on HierarchicalEmbedder."""

import math
import pickle
import warnings
from collections import Counter

import numpy as np
import pytest
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.decomposition import PCA
from sklearn.exceptions import NotFittedError, UndefinedMetricWarning
from sklearn.model_selection import GridSearchCV, cross_validate
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_hier.metrics import (
    hierarchical_ndcg_score,
    hierarchy_scorers,
    level_f1_score,
    lsa_accuracy,
    mean_normalized_rank,
    multilabel_level_f1_score,
    precision_at_k,
    predict_at_lsa_level,
)
from sklearn_hier.model_selection import UnseenLeafKFold
from sklearn_hier.taxonomy import Taxonomy


class CentroidEmbedder(TransformerMixin, BaseEstimator):
    """PCA embeddings and nearest-centroid predictions at every level: the scorer contract, nothing more."""

    def __init__(self, n_components=3):
        self.n_components = n_components

    def fit(self, X, y):
        self.taxonomy_ = Taxonomy.from_y(y)
        self.pca_ = PCA(self.n_components, random_state=0).fit(X)
        Z = self.pca_.transform(X)
        codes = self.taxonomy_.level_codes(y)
        self.centroids_ = {
            level: np.stack([Z[codes[:, level - 1] == c].mean(0) for c in range(len(self.taxonomy_.levels[level]))])
            for level in range(1, self.taxonomy_.depth + 1)
        }
        leaf = self.taxonomy_.encode(y)
        self.leaf_centroids_ = np.stack([Z[leaf == c].mean(0) for c in range(self.taxonomy_.n_leaves)])
        self.calls_ = Counter()
        return self

    def transform(self, X):
        self.calls_["transform"] += 1
        return self.pca_.transform(X).astype(np.float32)

    def predict_level(self, X, level, source="auto"):
        self.calls_["predict_level", level, source] += 1
        Z = self.pca_.transform(X)
        nodes = np.asarray(self.taxonomy_.levels[level], dtype=object)
        if source == "leaf":
            leaf = ((Z[:, None, :] - self.leaf_centroids_[None]) ** 2).sum(-1).argmin(1)
            return nodes[self.taxonomy_.leaf_level_codes()[leaf, level - 1]]
        return nodes[((Z[:, None, :] - self.centroids_[level][None]) ** 2).sum(-1).argmin(1)]


def tree_data(seed=0, per_leaf=10):
    """3 families x 2 instruments x 3 techniques; features are the sum of node offsets plus noise."""
    rng = np.random.default_rng(seed)
    leaves = [f"{f}/{f}{i}/{t}" for f in "abc" for i in "12" for t in "xyz"]
    offsets = {}
    for leaf in leaves:
        parts = leaf.split("/")
        for d in range(1, 4):
            offsets.setdefault("/".join(parts[:d]), rng.normal(scale=4.0 / d, size=6))
    y = np.repeat(np.array(leaves, dtype=object), per_leaf)
    X = np.array([sum(offsets["/".join(p.split("/")[:d])] for d in range(1, 4)) for p in y])
    return X + rng.normal(scale=0.7, size=X.shape), y


CV = UnseenLeafKFold(3, min_samples_leaf=5, random_state=0)
SEEN_KEYS = ["neg_mean_normalized_rank", "ndcg", "precision_at_5"]


def first_fold():
    X, y = tree_data()
    train, test = next(CV.split(X, y))
    pipe = make_pipeline(StandardScaler(), CentroidEmbedder()).fit(X[train], y[train])
    return pipe, X[test], y[test]


def test_cross_validate_returns_every_key_and_nan_for_missing_unseen_clips():
    X, y = tree_data()
    scoring = hierarchy_scorers(levels=3)
    # Each test fold holds one clip per seen leaf: RP@5 has nothing to retrieve (NaN and a warning, not 0).
    with pytest.warns(UndefinedMetricWarning, match="precision_at_5: every leaf has a single clip"):
        result = cross_validate(
            make_pipeline(StandardScaler(), CentroidEmbedder()),
            X,
            y,
            cv=CV,
            scoring=scoring,
            return_train_score=True,
            error_score="raise",
        )
    assert np.isnan(result["test_precision_at_5"]).all()
    for name in scoring:
        if name != "precision_at_5":
            assert np.isfinite(result[f"test_{name}"]).all(), name
        if name.endswith("_unseen") or name.startswith("lsa_"):
            assert np.isnan(result[f"train_{name}"]).all(), name  # training clips are all seen
        else:
            assert np.isfinite(result[f"train_{name}"]).all(), name
    assert (result["test_ndcg"] > 0.5).all() and (result["test_lsa_accuracy_aware"] > 0.5).all()


def test_scorers_equal_the_metrics_on_seen_and_unseen_clips():
    pipe, X, y = first_fold()
    final, tax = pipe[-1], pipe[-1].taxonomy_
    scores = {name: scorer(pipe, X, y) for name, scorer in hierarchy_scorers(levels=[1, 3]).items()}
    emb = pipe.transform(X)
    for suffix, rows in (("", np.isin(y, tax.leaves)), ("_unseen", ~np.isin(y, tax.leaves))):
        assert scores[f"neg_mean_normalized_rank{suffix}"] == pytest.approx(
            -mean_normalized_rank(emb[rows], y[rows], levels=tax.informative_levels)
        )
        assert scores[f"ndcg{suffix}"] == pytest.approx(hierarchical_ndcg_score(emb[rows], y[rows]))
        if suffix:
            assert scores[f"precision_at_5{suffix}"] == pytest.approx(precision_at_k(emb[rows], y[rows], k=5))
        else:  # one clip per seen leaf: the metric's 0 is no measurement, the scorer says NaN
            assert precision_at_k(emb[rows], y[rows], k=5) == 0.0
            assert math.isnan(scores["precision_at_5"])
    seen, unseen = np.isin(y, tax.leaves), ~np.isin(y, tax.leaves)
    Xt = pipe[:-1].transform(X)
    for level in (1, 3):
        pred = final.predict_level(Xt[seen], level)
        assert scores[f"f1_macro_level_{level}"] == pytest.approx(level_f1_score(y[seen], pred, level=level))
    for key, source in (("lsa_accuracy_aware", "level"), ("lsa_accuracy_blind", "leaf")):
        pred = predict_at_lsa_level(pipe, X[unseen], y[unseen], source=source)
        assert scores[key] == pytest.approx(lsa_accuracy(y[unseen], pred, tax))


class BallEmbedder(CentroidEmbedder):
    """The same embeddings mapped into the Poincaré ball of curvature -4 (radius 1/2), declared as such."""

    metric_ = "poincare"
    curvature_ = 4.0

    def transform(self, X):
        Z = super().transform(X).astype(np.float64)
        norms = np.linalg.norm(Z, axis=1, keepdims=True)
        return (np.tanh(norms / 4) * Z / norms / 2).astype(np.float32)


def test_scorers_rank_by_the_fitted_metric_and_rescale_the_curvature():
    X, y = tree_data()
    train, test = next(CV.split(X, y))
    pipe = make_pipeline(StandardScaler(), BallEmbedder()).fit(X[train], y[train])
    X, y = X[test], y[test]
    unseen = ~np.isin(y, pipe[-1].taxonomy_.leaves)
    Z = pipe.transform(X[unseen])
    auto = hierarchy_scorers()["ndcg_unseen"](pipe, X, y)
    # On the unit ball after multiplying by sqrt(c) = 2; the points of radius-1/2 ball scored as unit-ball
    # points, or by cosine, give other values.
    assert auto == pytest.approx(hierarchical_ndcg_score(2 * Z, y[unseen], metric="poincare"))
    assert auto != pytest.approx(hierarchical_ndcg_score(Z, y[unseen], metric="poincare"))
    assert hierarchy_scorers(metric="cosine")["ndcg_unseen"](pipe, X, y) == pytest.approx(
        hierarchical_ndcg_score(Z, y[unseen])
    )
    # An estimator without metric_ is ranked by cosine under "auto".
    plain = make_pipeline(StandardScaler(), CentroidEmbedder()).fit(X, y)
    assert hierarchy_scorers()["ndcg"](plain, X, y) == hierarchy_scorers(metric="cosine")["ndcg"](plain, X, y)


def test_scorers_of_one_call_compute_embeddings_and_predictions_once():
    pipe, X, y = first_fold()
    calls = pipe[-1].calls_
    scorers = hierarchy_scorers()
    before = Counter(calls)
    for scorer in scorers.values():
        scorer(pipe, X, y)
    made = calls - before
    assert made["transform"] == 1
    assert all(n == 1 for key, n in made.items() if key != "transform")
    # f1 at the 3 levels, LSA at each LSA depth for two sources
    assert sum(1 for key in made if key[0] == "predict_level" and key[2] == "auto") == 3
    X_again = X.copy()
    for scorer in scorers.values():  # a different X object (even with equal content) is scored afresh, once
        scorer(pipe, X_again, y)
    assert (calls - before)["transform"] == 2


def test_bare_estimator_and_pipeline_score_alike():
    pipe, X, y = first_fold()
    bare = pipe[-1]
    Xt = pipe[:-1].transform(X)
    for name, scorer in hierarchy_scorers().items():
        assert scorer(bare, Xt, y) == pytest.approx(scorer(pipe, X, y), nan_ok=True), name


def test_retrieval_scorers_need_two_clips():
    pipe, X, y = first_fold()
    unseen = np.flatnonzero(~np.isin(y, pipe[-1].taxonomy_.leaves))[:1]
    seen = np.flatnonzero(np.isin(y, pipe[-1].taxonomy_.leaves))
    rows = np.r_[seen, unseen]
    scores = {name: s(pipe, X[rows], y[rows]) for name, s in hierarchy_scorers().items()}
    assert math.isnan(scores["ndcg_unseen"]) and math.isnan(scores["neg_mean_normalized_rank_unseen"])
    assert np.isfinite(scores["lsa_accuracy_aware"]) and np.isfinite(scores["ndcg"])


def test_pickled_scorers_share_one_empty_cache():
    pipe, X, y = first_fold()
    scorers = hierarchy_scorers()
    value = scorers["ndcg"](pipe, X, y)
    restored = pickle.loads(pickle.dumps(scorers))
    caches = {id(s.cache) for s in restored.values()}
    assert len(caches) == 1 and restored["ndcg"].cache._current is None
    assert restored["ndcg"](pipe, X, y) == pytest.approx(value)


def test_grid_search_refits_on_a_hierarchy_score():
    X, y = tree_data()
    search = GridSearchCV(
        make_pipeline(StandardScaler(), CentroidEmbedder()),
        {"centroidembedder__n_components": [1, 4]},
        scoring=hierarchy_scorers(),
        refit="ndcg",
        cv=CV,
    ).fit(X, y)
    assert search.best_params_ == {"centroidembedder__n_components": 4}
    assert set(search.cv_results_) >= {f"mean_test_{name}" for name in hierarchy_scorers()}


def test_estimators_outside_the_contract_are_refused():
    X, y = tree_data()
    scorer = hierarchy_scorers()["ndcg"]
    with pytest.raises(TypeError, match="must have transform and predict_level"):
        scorer(make_pipeline(StandardScaler(), PCA(2)).fit(X), X, y)
    with pytest.raises(NotFittedError):
        scorer(CentroidEmbedder(), X, y)
    pipe, X_test, y_test = first_fold()
    with pytest.raises(ValueError, match="sample_weight"):
        scorer(pipe, X_test, y_test, sample_weight=np.ones(len(y_test)))
    with pytest.raises(ValueError, match="levels must be depths of at least 1"):
        hierarchy_scorers(levels=[0, 1])
    with pytest.raises(ValueError, match="'k' parameter"):
        hierarchy_scorers(k=0)


def test_aware_accuracy_is_nan_without_trained_level_heads():
    pipe, X, y = first_fold()
    pipe[-1].level_heads_trained_ = False
    scorers = hierarchy_scorers()
    assert math.isnan(scorers["lsa_accuracy_aware"](pipe, X, y))
    assert np.isfinite(scorers["lsa_accuracy_blind"](pipe, X, y))
    assert not any(key[0] == "predict_level" and key[2] == "level" for key in pipe[-1].calls_)


@pytest.mark.parametrize("losses", ["PL+T", "L"])
def test_cross_validate_with_hierarchical_embedder(losses):
    from sklearn_hier.embedder import HierarchicalEmbedder

    X, y = tree_data(per_leaf=6)
    embedder = HierarchicalEmbedder(
        losses=losses,
        embedding_dim=4,
        module__hidden=(8,),
        triplets_per_batch=4,
        max_epochs=2,
        valid_size=None,
        random_state=0,
        verbose=0,
    )
    scoring = hierarchy_scorers()
    cv = UnseenLeafKFold(2, min_samples_leaf=5, random_state=0)
    result = cross_validate(
        make_pipeline(StandardScaler(), embedder), X, y, cv=cv, scoring=scoring, error_score="raise"
    )
    for name in scoring:
        values = result[f"test_{name}"]
        assert len(values) == 2, name
        if name == "lsa_accuracy_aware" and losses == "L":
            assert np.isnan(values).all()  # no PL: the per-level heads were never trained
        elif name == "precision_at_5":
            assert np.isnan(values).all()  # one clip per seen leaf in each test fold: nothing to retrieve
        else:
            assert np.isfinite(values).all(), name


def test_an_undefined_rp5_is_said_once_per_run_at_the_callers_line():
    X, y = tree_data()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = cross_validate(  # every fold leaves one test clip per seen leaf
            make_pipeline(StandardScaler(), CentroidEmbedder()), X, y, cv=CV, scoring=hierarchy_scorers()
        )
    undefined = [w for w in caught if issubclass(w.category, UndefinedMetricWarning)]
    assert len(result["test_precision_at_5"]) == CV.get_n_splits() > 1
    assert len(undefined) == 1, [str(w.message) for w in undefined]  # not once per fold
    assert undefined[0].filename == __file__  # this test's cross_validate line, not the library's


# ------------------------------------------------------------- label sets
def test_retrieval_scorers_take_label_sets_and_one_label_sets_score_as_paths():
    from _blobs import FAST, tree_blobs

    from sklearn_hier.embedder import HierarchicalEmbedder
    from sklearn_hier.metrics import hierarchical_ndcg_score, mean_normalized_rank

    X, y = tree_blobs(n_per_leaf=6)
    emb = HierarchicalEmbedder(losses="PL+T", max_epochs=2, random_state=0, device="cpu", **FAST).fit(X, y)
    one_label_sets = [frozenset([label]) for label in y]
    for name in ("neg_mean_normalized_rank", "ndcg", "precision_at_2"):
        scorer = hierarchy_scorers(k=2)[name]
        assert scorer(emb, X, one_label_sets) == scorer(emb, X, y), name  # bit for bit: today's engine
    # Two-label sets (a clip's leaf and the leaf of the clip after it): scored on the label-set engine.
    sets = [frozenset([a, b]) for a, b in zip(y, np.roll(y, 1), strict=True)]
    Z = emb.transform(X)
    assert hierarchy_scorers()["ndcg"](emb, X, sets) == pytest.approx(hierarchical_ndcg_score(Z, sets), abs=1e-12)
    assert -hierarchy_scorers()["neg_mean_normalized_rank"](emb, X, sets) == pytest.approx(
        mean_normalized_rank(Z, sets), abs=1e-12
    )
    # A set naming a class the fit never saw makes its clip an unseen one.
    unseen = sets[:-1] + [frozenset(["z/new"])]
    assert np.isnan(hierarchy_scorers()["ndcg_unseen"](emb, X, unseen))  # one unseen clip: nothing to rank
    # A model fit on single labels predicts one-label sets: the F1 of its sets against the two-label ones.
    predicted = emb.predict_label_sets(X)
    assert all(len(labels) == 1 for labels in predicted)
    levels = emb.taxonomy_.informative_levels
    expected = np.mean([multilabel_level_f1_score(sets, predicted, emb.taxonomy_, level=d) for d in levels])
    assert hierarchy_scorers()["f1_macro_mean"](emb, X, sets) == pytest.approx(expected, rel=1e-12)
    # z/new's lowest seen ancestor is the root: nothing to recognise it as, so nothing to score.
    assert np.isnan(hierarchy_scorers()["lsa_accuracy_blind"](emb, X, unseen))
