"""Per-level F1, LSA accuracy, hierarchical P/R/F, mistake severity and AHD@k against loop references."""

import itertools
import math

import numpy as np
import pytest
from _trees import common, names, prefix
from sklearn.base import BaseEstimator

from sklearn_hier.metrics import (
    average_hierarchical_distance_at_k,
    hierarchical_precision_recall_fscore,
    level_f1_score,
    lsa_accuracy,
    mistake_severity,
    predict_at_lsa_level,
)
from sklearn_hier.taxonomy import Taxonomy

LEAVES = ["A/x/1", "A/x/2", "A/y/1", "B/z/1", "B/z/2", "B/w", "C"]


def random_labels(n, seed, internal=True):
    rng = np.random.default_rng(seed)
    true = np.array(LEAVES, dtype=object)[rng.integers(0, len(LEAVES), n)]
    nodes = LEAVES + (["A", "A/x", "B/z", "B"] if internal else [])
    pred = np.array(nodes, dtype=object)[rng.integers(0, len(nodes), n)]
    return true, pred


# ------------------------------------------------------------------ references
def ref_macro_f1(true, pred):
    classes = sorted(set(true) | set(pred), key=str)
    scores = []
    for c in classes:
        tp = sum(t == c and p == c for t, p in zip(true, pred, strict=True))
        fp = sum(t != c and p == c for t, p in zip(true, pred, strict=True))
        fn = sum(t == c and p != c for t, p in zip(true, pred, strict=True))
        scores.append(2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0)
    return sum(scores) / len(scores)


def ref_level_f1(true, pred, level):
    if level == -1:
        return ref_macro_f1(list(true), list(pred))
    kept = [(prefix(t, level), prefix(p, level) or "<above>") for t, p in zip(true, pred, strict=True)]
    kept = [(t, p) for t, p in kept if t is not None]
    return ref_macro_f1([t for t, _ in kept], [p for _, p in kept])


# ------------------------------------------------------------------------- F1
@pytest.mark.parametrize("level", [-1, 1, 2, 3])
def test_level_f1_matches_brute_force(level):
    true, pred = random_labels(60, seed=level + 10)
    assert level_f1_score(true, pred, level=level) == pytest.approx(ref_level_f1(true, pred, level), abs=1e-12)


def test_level_f1_micro_is_accuracy_and_levels_shape():
    true, pred = random_labels(50, seed=1, internal=False)
    accuracy = np.mean([prefix(t, 1) == prefix(p, 1) for t, p in zip(true, pred, strict=True)])
    assert level_f1_score(true, pred, level=1, average="micro") == pytest.approx(accuracy)
    levels = [[*names(p), "", ""][:3] for p in true]
    assert level_f1_score(levels, pred, level=2) == pytest.approx(level_f1_score(true, pred, level=2))


def test_level_f1_without_a_class_at_the_level_is_nan():
    assert math.isnan(level_f1_score(["C", "C"], ["C", "A/x"], level=2))
    with pytest.raises(ValueError, match="depth from 1 to 2"):
        level_f1_score(["a/x"], ["a/x"], level=3)
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        level_f1_score(["a/x", "a/y"], ["a/x"])


# ----------------------------------------------------------------------- LSA
SEEN = ["A/x/1", "A/y/1", "B/z/1", "D/v/1"]


def ref_lsa_accuracy(true, pred, seen):
    nodes = {prefix(s, d) for s in seen for d in range(1, 4)} - {None}
    informative = [d for d in range(1, 4) if len({prefix(s, d) for s in seen} - {None}) > 1]
    hits = []
    for t, p in zip(true, pred, strict=True):
        lsa = max((prefix(t, d) for d in range(1, len(names(t)) + 1) if prefix(t, d) in nodes), key=len, default="")
        if len(names(lsa)) in informative:
            hits.append(p == lsa)
    return sum(hits) / len(hits) if hits else math.nan


def test_lsa_accuracy_matches_brute_force():
    true, pred = random_labels(80, seed=2)
    assert lsa_accuracy(true, pred, Taxonomy.from_paths(SEEN)) == pytest.approx(ref_lsa_accuracy(true, pred, SEEN))


def test_lsa_accuracy_leaves_out_levels_without_a_choice():
    seen = Taxonomy.from_paths(["A/x/1", "A/x/2"])  # depths 1 and 2 hold one node each
    assert seen.informative_levels == (3,)
    assert math.isnan(lsa_accuracy(["A/x/3", "B/q/1"], ["A/x", "B"], seen))
    assert lsa_accuracy(["A/x/1", "A/x/3"], ["A/x/1", None], seen) == 1.0
    with pytest.raises(ValueError, match="1-D"):
        lsa_accuracy(["A/x/1"], [["A"]], seen)


class LevelEcho(BaseEstimator):
    """Answers predict_level with '<level>:<source>' and records the calls."""

    taxonomy_ = Taxonomy.from_paths(SEEN)

    def __init__(self):
        self.calls = []

    def fit(self, X, y):
        return self

    def transform(self, X):
        return np.asarray(X, dtype=float)

    def predict_level(self, X, level, source="auto"):
        self.calls.append((len(X), level, source))
        return np.array([f"{level}:{source}:{int(x[0])}" for x in X], dtype=object)


def test_predict_at_lsa_level_asks_each_clip_at_its_lsa_depth():
    y = ["A/x/9", "A/q/1", "B/z/1", "E/e", "A/x/1"]
    X = np.arange(5)[:, None]
    echo = LevelEcho()
    pred = predict_at_lsa_level(echo, X, y, source="leaf")
    assert list(pred) == ["2:leaf:0", "1:leaf:1", "3:leaf:2", None, "3:leaf:4"]
    assert sorted(echo.calls) == [(1, 1, "leaf"), (1, 2, "leaf"), (2, 3, "leaf")]


# ------------------------------------------------------------ hierarchical PRF
def ref_prf(true, pred, beta, average):
    sets_t = [{prefix(t, d) for d in range(1, len(names(t)) + 1)} for t in true]
    sets_p = [{prefix(p, d) for d in range(1, len(names(p)) + 1)} for p in pred]
    inter = [len(a & b) for a, b in zip(sets_t, sets_p, strict=True)]

    def f(p, r):
        return (1 + beta**2) * p * r / (beta**2 * p + r) if beta**2 * p + r else 0.0

    if average == "micro":
        p = sum(inter) / sum(len(b) for b in sets_p)
        r = sum(inter) / sum(len(a) for a in sets_t)
        return p, r, f(p, r)
    ps = [i / len(b) if b else 0.0 for i, b in zip(inter, sets_p, strict=True)]
    rs = [i / len(a) for i, a in zip(inter, sets_t, strict=True)]
    return np.mean(ps), np.mean(rs), np.mean([f(p, r) for p, r in zip(ps, rs, strict=True)])


@pytest.mark.parametrize("average", ["micro", "macro"])
@pytest.mark.parametrize("beta", [1.0, 0.5])
def test_hierarchical_prf_matches_ancestor_sets(average, beta):
    true, pred = random_labels(70, seed=3)
    pred[:3] = ""  # predictions of the root: empty sets
    got = hierarchical_precision_recall_fscore(true, pred, beta=beta, average=average)
    np.testing.assert_allclose(got, ref_prf(true, pred, beta, average), atol=1e-12)


def test_hierarchical_prf_hand_worked():
    # {A, A/x, A/x/1} vs {A, A/x}: 2 shared of 2 predicted, 3 true.
    assert hierarchical_precision_recall_fscore(["A/x/1"], ["A/x"]) == pytest.approx((1.0, 2 / 3, 0.8))


# --------------------------------------------------------------- severity, AHD
def test_mistake_severity_matches_brute_force():
    true, pred = random_labels(70, seed=4)
    wrong = [(t, p) for t, p in zip(true, pred, strict=True) if t != p]
    expected = np.mean([len(names(t)) - common(t, p) for t, p in wrong])
    assert mistake_severity(true, pred) == pytest.approx(expected)
    assert math.isnan(mistake_severity(["A/x/1"], ["A/x/1"]))


def ref_ahd(true, scores, labels, k):
    out = []
    for t, row in zip(true, scores, strict=True):
        distance = [len(names(t)) - common(t, c) for c in labels]
        # average over every order of tied scores
        totals = []
        for perm in itertools.permutations(range(len(labels))):
            order = sorted(range(len(labels)), key=lambda c: (-row[c], perm.index(c)))
            totals.append(sum(distance[c] for c in order[:k]) / k)
        out.append(np.mean(totals))
    return np.mean(out)


@pytest.mark.parametrize("k", [1, 2, 4])
def test_ahd_matches_brute_force_with_ties(k):
    rng = np.random.default_rng(5)
    labels = ["A/x/1", "A/y/1", "B/z", "C", "A/x/2"]
    true = np.array(labels, dtype=object)[rng.integers(0, 5, 12)]
    scores = rng.integers(0, 3, (12, 5)).astype(float)  # many ties
    got = average_hierarchical_distance_at_k(true, scores, labels=labels, k=k)
    assert got == pytest.approx(ref_ahd(true, scores, labels, k), abs=1e-12)


def test_ahd_hand_worked_tie():
    # a/x and a/y tie for the top place: distances 0 and 1, half each.
    assert average_hierarchical_distance_at_k(["a/x"], [[1.0, 1.0, 0.0]], labels=["a/x", "a/y", "b/z"], k=1) == 0.5


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"y_score": [[1.0, 0.0]], "labels": ["a", "b", "c"]}, "2 columns but labels names 3"),
        ({"y_score": [[1.0, 0.0]], "labels": ["a", "b"], "k": 3}, "k=3 cannot exceed the number of classes=2"),
        ({"y_score": [[1.0, 0.0], [0.0, 1.0]], "labels": ["a", "b"]}, "inconsistent numbers of samples"),
    ],
)
def test_ahd_bad_input(kwargs, message):
    kwargs.setdefault("k", 1)
    with pytest.raises(ValueError, match=message):
        average_hierarchical_distance_at_k(["a"], **kwargs)
