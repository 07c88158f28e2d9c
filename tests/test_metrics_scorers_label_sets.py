"""hierarchy_scorers' F1 and LSA accuracies on label sets, on a minimal contract estimator, a tree and a DAG.

Every fold's scores are recomputed here from their definitions with the loop references of
test_metrics_multilabel_classification (closures, depths and lowest seen ancestors from a parent
map), on the clips the test splits by hand into seen and unseen.
"""

import math
import warnings
from collections import Counter

import numpy as np
import pytest
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.decomposition import PCA
from sklearn.exceptions import UndefinedMetricWarning
from sklearn.model_selection import cross_validate
from test_metrics_multilabel_classification import DAG, ref_ancestors, ref_closure, ref_depth, ref_level_f1
from test_metrics_multilabel_classification import ref_lsa_accuracy as ref_lsa

from sklearn_hier.metrics import hierarchy_scorers
from sklearn_hier.model_selection import UnseenLabelKFold, UnseenLeafKFold
from sklearn_hier.taxonomy import Taxonomy, label_sets

TREE = Taxonomy.from_paths([f"{f}/{f}{i}/{t}" for f in "abc" for i in "12" for t in "xy"])


class NearestSetEmbedder(TransformerMixin, BaseEstimator):
    """PCA embeddings; each clip is predicted the label set of its nearest training clip.

    The scorer contract on label sets, nothing more: ``taxonomy_``, ``classes_``, ``transform``,
    ``predict_label_sets``; ``predict_level`` exists (the contract checks it) but must not be called.
    """

    def __init__(self, taxonomy=None, n_components=3):
        self.taxonomy = taxonomy
        self.n_components = n_components

    def fit(self, X, y):
        sets = label_sets(y, taxonomy=self.taxonomy)
        self.taxonomy_ = Taxonomy.from_label_sets(sets) if self.taxonomy is None else self.taxonomy.restrict(sets)
        self.classes_ = np.array(self.taxonomy_.nodes[1:], dtype=object)
        self.pca_ = PCA(self.n_components, random_state=0).fit(X)
        self.train_ = self.pca_.transform(X)
        self.sets_ = list(sets)
        self.calls_ = Counter()
        return self

    def transform(self, X):
        self.calls_["transform"] += 1
        return self.pca_.transform(X).astype(np.float32)

    def predict_label_sets(self, X):
        self.calls_["predict_label_sets"] += 1
        nearest = ((self.pca_.transform(X)[:, None] - self.train_[None]) ** 2).sum(-1).argmin(1)
        return [self.sets_[i] for i in nearest]

    def predict_level(self, X, level, source="auto"):
        raise AssertionError("the scorers must not call predict_level on label sets")


def mixtures(leaves, closure, n=200, seed=0):
    """Clips of one or two leaf labels; features sum a random offset per node of the clip's closure."""
    rng = np.random.default_rng(seed)
    nodes = sorted(set().union(*(closure([leaf]) for leaf in leaves)))
    offset = {node: rng.normal(scale=3.0, size=8) for node in nodes}
    y = [frozenset(rng.choice(leaves, size=rng.integers(1, 3), replace=False).tolist()) for _ in range(n)]
    X = np.array([sum(offset[node] for node in closure(labels)) for labels in y])
    return X + rng.normal(scale=0.5, size=X.shape), y


def tree_mixtures(seed=0):
    return mixtures(list(TREE.leaves), ref_closure, seed=seed)


def dag_mixtures(seed=0):
    return mixtures(list(DAG.leaves), ref_closure, seed=seed)


def reference_scores(estimator, X, y, train_labels):
    """The F1 and LSA scores of one fitted estimator on (X, y), from the definitions, by hand."""
    seen_nodes = ref_closure(train_labels)
    seen_leaves = {n for n in seen_nodes if not any(n in ref_ancestors(m) for m in seen_nodes)}
    seen = np.array([labels <= seen_nodes for labels in y])
    depth = {node: ref_depth(node) for node in seen_nodes}
    levels = [d for d in sorted(set(depth.values())) if sum(v == d for v in depth.values()) > 1]
    true_seen = [y[i] for i in np.flatnonzero(seen)]
    pred_seen = estimator.predict_label_sets(X[seen]) if seen.any() else []
    f1 = {d: ref_level_f1(true_seen, pred_seen, d, "macro") for d in range(1, max(depth.values()) + 1)}
    true_unseen = [y[i] for i in np.flatnonzero(~seen)]
    pred_unseen = estimator.predict_label_sets(X[~seen]) if (~seen).any() else []
    return {
        **{f"f1_macro_level_{d}": value for d, value in f1.items()},
        "f1_macro_mean": float(np.mean([f1[d] for d in levels])),
        "f1_macro_leaf": f1[max(depth.values())],
        "lsa_accuracy_blind": ref_lsa(true_unseen, pred_unseen, seen_nodes, seen_leaves),
    }


@pytest.mark.parametrize("kind", ["tree", "dag"])
def test_cross_validate_with_unseen_label_kfold_gives_the_reference_scores(kind):
    X, y = tree_mixtures() if kind == "tree" else dag_mixtures()
    taxonomy = None if kind == "tree" else DAG
    cv = UnseenLabelKFold(3, min_samples_leaf=5, test_size=0.3, random_state=0, taxonomy=taxonomy)
    scoring = hierarchy_scorers(k=2)
    depth = (TREE if kind == "tree" else DAG).depth
    scoring.update((k, v) for k, v in hierarchy_scorers(k=2, levels=depth).items() if k.startswith("f1_macro_level"))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = cross_validate(
            NearestSetEmbedder(taxonomy=taxonomy),
            X,
            y,
            cv=cv,
            scoring=scoring,
            return_estimator=True,
            return_indices=True,
            error_score="raise",
        )
    for fold, (estimator, test) in enumerate(zip(result["estimator"], result["indices"]["test"], strict=True)):
        expected = reference_scores(estimator, X[test], [y[i] for i in test], set().union(*estimator.sets_))
        for name, value in expected.items():
            assert result[f"test_{name}"][fold] == pytest.approx(value, rel=1e-12, nan_ok=True), (fold, name)
        assert np.isfinite(expected["lsa_accuracy_blind"]) and np.isfinite(expected["f1_macro_mean"])
    assert np.isnan(result["test_lsa_accuracy_aware"]).all()
    aware = [w for w in caught if "lsa_accuracy_aware asks a per-level head" in str(w.message)]
    assert len(aware) == 1 and aware[0].filename == __file__  # once per run, at the caller's line


def test_scorers_predict_label_sets_once_per_part():
    X, y = tree_mixtures()
    train, test = next(UnseenLabelKFold(3, min_samples_leaf=5, test_size=0.3, random_state=0).split(X, y))
    estimator = NearestSetEmbedder().fit(X[train], [y[i] for i in train])
    before = Counter(estimator.calls_)
    X_test, y_test = X[test], [y[i] for i in test]  # one object each: the scorers' cache knows them by identity
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UndefinedMetricWarning)
        for scorer in hierarchy_scorers(levels=3).values():
            scorer(estimator, X_test, y_test)
    made = estimator.calls_ - before
    assert made == Counter({"transform": 1, "predict_label_sets": 2})  # seen clips, unseen clips


class LeafCentroidEmbedder(NearestSetEmbedder):
    """Fit on one label per clip; predicts the nearest leaf centroid, as a leaf, at any level, or as a set."""

    def fit(self, X, y):
        self.taxonomy_ = Taxonomy.from_y(y)
        self.pca_ = PCA(self.n_components, random_state=0).fit(X)
        Z, codes = self.pca_.transform(X), self.taxonomy_.encode(y)
        self.centroids_ = np.stack([Z[codes == c].mean(0) for c in range(self.taxonomy_.n_leaves)])
        self.calls_ = Counter()
        return self

    def _leaves(self, X):
        nearest = ((self.pca_.transform(X)[:, None] - self.centroids_[None]) ** 2).sum(-1).argmin(1)
        return np.array(self.taxonomy_.leaves, dtype=object)[nearest]

    def predict_level(self, X, level, source="auto"):
        return np.array(["/".join(leaf.split("/")[:level]) for leaf in self._leaves(X)], dtype=object)

    def predict_label_sets(self, X):
        return [frozenset([leaf]) for leaf in self._leaves(X)]


def test_one_label_sets_score_as_the_single_labels_when_the_set_is_the_predicted_leaf():
    rng = np.random.default_rng(0)
    leaves = np.array(TREE.leaves, dtype=object)
    y = np.repeat(leaves, 8)
    offset = {node: rng.normal(scale=3.0, size=8) for node in TREE.nodes[1:]}
    X = np.array([sum(offset[n] for n in ref_closure([leaf])) for leaf in y]) + rng.normal(size=(len(y), 8))
    train, test = next(UnseenLeafKFold(3, min_samples_leaf=5, test_size=0.3, random_state=0).split(X, y))
    estimator = LeafCentroidEmbedder().fit(X[train], y[train])
    scorers = {**hierarchy_scorers(), **hierarchy_scorers(levels=3)}
    one_label_sets = [frozenset([label]) for label in y[test]]
    for name in [name for name in scorers if name.startswith("f1")] + ["lsa_accuracy_blind"]:
        scorer = scorers[name]
        single = scorer(estimator, X[test], y[test])
        assert np.isfinite(single), name
        assert scorer(estimator, X[test], one_label_sets) == pytest.approx(single, rel=1e-12), name


def test_without_a_full_taxonomy_identities_have_no_lsa_and_without_predict_label_sets_nothing_is_scored():
    X, y = dag_mixtures()
    cv = UnseenLabelKFold(3, min_samples_leaf=5, test_size=0.2, random_state=0, taxonomy=DAG)
    train, test = list(cv.split(X, y))[1]  # a fold where Drum, on a third of the clips, is seen
    estimator = NearestSetEmbedder(taxonomy=DAG).fit(X[train], [y[i] for i in train])
    y_test = [y[i] for i in test]
    estimator.taxonomy = None  # the DAG of the unseen labels is gone
    with pytest.warns(UndefinedMetricWarning, match="holds no full taxonomy"):
        assert math.isnan(hierarchy_scorers()["lsa_accuracy_blind"](estimator, X[test], y_test))
    assert np.isfinite(hierarchy_scorers(levels=1)["f1_macro_level_1"](estimator, X[test], y_test))
    estimator.predict_label_sets = None
    with pytest.warns(UndefinedMetricWarning, match="which NearestSetEmbedder lacks"):
        assert math.isnan(hierarchy_scorers()["f1_macro_leaf"](estimator, X[test], y_test))


@pytest.mark.parametrize("kind", ["tree", "dag"])
def test_cross_validate_a_hierarchical_embedder_fit_on_label_sets(kind):
    from sklearn_hier.embedder import HierarchicalEmbedder

    X, y = tree_mixtures() if kind == "tree" else dag_mixtures()
    taxonomy = None if kind == "tree" else DAG
    embedder = HierarchicalEmbedder(
        losses="PL+T",
        triplets="semi_hard",
        taxonomy=taxonomy,
        embedding_dim=8,
        module__hidden=(16,),
        max_epochs=3,
        lr=1e-2,
        valid_size=None,
        device="cpu",
        random_state=0,
        verbose=0,
    )
    cv = UnseenLabelKFold(3, min_samples_leaf=5, test_size=0.3, random_state=0, taxonomy=taxonomy)
    scoring = hierarchy_scorers(k=2)
    with pytest.warns(UndefinedMetricWarning, match="lsa_accuracy_aware asks a per-level head"):
        result = cross_validate(
            embedder, X, y, cv=cv, scoring=scoring, return_estimator=True, return_indices=True, error_score="raise"
        )
    folds = zip(result["estimator"], result["indices"]["train"], result["indices"]["test"], strict=True)
    for fold, (fitted, train, test) in enumerate(folds):
        expected = reference_scores(fitted, X[test], [y[i] for i in test], set().union(*(y[i] for i in train)))
        for name in ("f1_macro_mean", "f1_macro_leaf", "lsa_accuracy_blind"):
            assert np.isfinite(expected[name]), (fold, name)
            assert result[f"test_{name}"][fold] == pytest.approx(expected[name], rel=1e-12), (fold, name)
    assert np.isnan(result["test_lsa_accuracy_aware"]).all()
