"""lwlrap, mean average precision, hierarchical P/R/F on label-set closures and the tagging scorers.

Each score is checked against a loop written from its definition here, against scikit-learn where it
has the same score (LRAP with per-clip weights, average_precision_score), and on hand-worked cases.
"""

import math
import pickle

import numpy as np
import pytest
import torch
from sklearn.datasets import make_multilabel_classification
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score, label_ranking_average_precision_score
from sklearn.model_selection import KFold, cross_validate
from sklearn.multiclass import OneVsRestClassifier

from sklearn_hier.metrics import (
    _tagging,
    hierarchical_precision_recall_fscore,
    lwlrap_score,
    mean_average_precision,
    multilabel_hierarchical_f1_score,
    multilabel_hierarchical_precision_recall_fscore,
    tagging_scorers,
)
from sklearn_hier.taxonomy import Taxonomy

PRF = multilabel_hierarchical_precision_recall_fscore


def tagging_data(n, n_classes, seed, n_levels=None, empty_rows=0):
    """Indicator matrix and scores; ``n_levels`` distinct score values make ties likely."""
    rng = np.random.default_rng(seed)
    y_true = rng.random((n, n_classes)) < 0.3
    y_true[: max(1, n // 10), 0] = True  # at least one positive
    y_true[n - empty_rows :] = False
    y_score = rng.random((n, n_classes))
    if n_levels is not None:
        y_score = np.floor(y_score * n_levels) / n_levels
    return y_true.astype(np.int64), y_score


# ------------------------------------------------------------------ references written from the definitions
def brute_lwlrap(y_true, y_score, weights=None):
    """Mean over (clip, positive label) pairs of the precision at the label; ties count as ranked above."""
    total = weight_sum = 0.0
    for i, (truth, scores) in enumerate(zip(y_true.tolist(), y_score.tolist(), strict=True)):
        w = 1.0 if weights is None else weights[i]
        for label, positive in enumerate(truth):
            if not positive:
                continue
            above = [k for k in range(len(scores)) if scores[k] >= scores[label]]
            total += w * sum(truth[k] for k in above) / len(above)
            weight_sum += w
    return total / weight_sum


def brute_ap(truth, scores):
    """Sum over distinct thresholds, highest first, of (recall gained) x (precision at the threshold)."""
    truth, scores = list(truth), list(scores)
    ap = previous_recall = 0.0
    for threshold in sorted(set(scores), reverse=True):
        above = [k for k in range(len(scores)) if scores[k] >= threshold]
        hits = sum(truth[k] for k in above)
        recall = hits / sum(truth)
        ap += (recall - previous_recall) * hits / len(above)
        previous_recall = recall
    return ap


def brute_prf(true_sets, pred_sets, closure, beta=1.0, average="micro"):
    """Kiritchenko's sums (micro) or per-clip means (macro) on the closures ``closure(label)`` returns."""

    def closed(labels):
        return set().union(*(closure(label) for label in labels if label != ""))

    pairs = [(closed(t), closed(p)) for t, p in zip(true_sets, pred_sets, strict=True)]

    def f(p, r):
        return (1 + beta**2) * p * r / (beta**2 * p + r) if beta**2 * p + r > 0 else 0.0

    if average == "micro":
        common = sum(len(t & p) for t, p in pairs)
        n_pred, n_true = sum(len(p) for _, p in pairs), sum(len(t) for t, _ in pairs)
        hp, hr = (common / n_pred if n_pred else 0.0), (common / n_true if n_true else 0.0)
        return hp, hr, f(hp, hr)
    hps = [len(t & p) / len(p) if p else 0.0 for t, p in pairs]
    hrs = [len(t & p) / len(t) if t else 0.0 for t, p in pairs]
    return np.mean(hps), np.mean(hrs), np.mean([f(p, r) for p, r in zip(hps, hrs, strict=True)])


def path_closure(label):
    """Every prefix of a path: its node and its ancestors in a tree, written without Taxonomy."""
    parts = label.split("/")
    return {"/".join(parts[:d]) for d in range(1, len(parts) + 1)}


# A DAG of node ids with several parents (AudioSet-shaped), and an object with just the methods the
# scores may use: ``ancestors``, ``in`` and ``nodes``.
PARENTS = {
    "Animal": [],
    "Domestic": ["Animal"],
    "Wild": ["Animal"],
    "Canine": ["Animal"],
    "Dog": ["Domestic", "Canine"],
    "Wolf": ["Wild", "Canine"],
    "Bark": ["Dog"],
    "Howl": ["Dog", "Wolf"],
    "Music": [],
    "Guitar": ["Music"],
    "Strum": ["Guitar"],
}


class DagStub:
    nodes = tuple(PARENTS)

    def __contains__(self, node):
        return node in PARENTS

    def ancestors(self, node):
        found, stack = [], list(PARENTS[node])
        while stack:
            parent = stack.pop()
            if parent not in found:
                found.append(parent)
                stack.extend(PARENTS[parent])
        return tuple(found)


def dag_closure(label):
    """The node and everything above it, by a fixed point over the parent lists (not DagStub.ancestors)."""
    closed = {label}
    while True:
        grown = closed | {parent for node in closed for parent in PARENTS[node]}
        if grown == closed:
            return closed
        closed = grown


def random_sets(nodes, n, seed, max_labels=3):
    rng = np.random.default_rng(seed)
    return [set(rng.choice(nodes, size=int(rng.integers(0, max_labels + 1))).tolist()) for _ in range(n)]


# ------------------------------------------------------------------ lwlrap
@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("n_levels", [None, 3])
def test_lwlrap_matches_the_definition(seed, n_levels):
    y_true, y_score = tagging_data(40, 7, seed, n_levels=n_levels, empty_rows=3)
    assert lwlrap_score(y_true, y_score) == pytest.approx(brute_lwlrap(y_true, y_score), rel=1e-12)
    weights = np.random.default_rng(seed).random(40)
    expected = brute_lwlrap(y_true, y_score, weights)
    assert lwlrap_score(y_true, y_score, sample_weight=weights) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("n_levels", [None, 4])
def test_lwlrap_is_sklearn_lrap_weighted_by_each_clips_positives(seed, n_levels):
    # The identity of the DCASE 2019 Task 2 baseline, ties included (both count them as ranked above).
    y_true, y_score = tagging_data(50, 9, seed, n_levels=n_levels, empty_rows=4)
    n_positive = y_true.sum(axis=1)
    expected = label_ranking_average_precision_score(y_true, y_score, sample_weight=n_positive)
    assert lwlrap_score(y_true, y_score) == pytest.approx(expected, rel=1e-12)
    weights = np.random.default_rng(seed).random(50)
    expected = label_ranking_average_precision_score(y_true, y_score, sample_weight=weights * n_positive)
    assert lwlrap_score(y_true, y_score, sample_weight=weights) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize(
    ("y_true", "y_score", "expected"),
    [
        ([[1, 0, 1], [0, 1, 0]], [[0.9, 0.5, 0.1], [0.2, 0.3, 0.8]], (1 + 2 / 3 + 1 / 2) / 3),
        ([[1, 0]], [[0.5, 0.5]], 0.5),  # a tied negative counts as ranked above
        ([[1, 1, 0]], [[0.5, 0.5, 0.5]], 2 / 3),  # three-way tie: 2 positives among 3 at the top
        ([[1, 1, 0]], [[0.9, 0.1, 0.5]], (1 + 2 / 3) / 2),
        ([[1, 0, 0], [1, 1, 1]], [[0.1, 0.2, 0.3], [0.3, 0.2, 0.1]], (1 / 3 + 3) / 4),  # pairs, not clips, vote
        ([[0, 1]], [[-np.float64(1e300), 1e300]], 1.0),
    ],
)
def test_lwlrap_hand_worked(y_true, y_score, expected):
    assert lwlrap_score(y_true, y_score) == pytest.approx(expected, rel=1e-14)


def test_constant_scores_give_the_prevalence():
    # every entry ties with every other: each pair's precision is its clip's share of positive labels,
    # each class's average precision its share of positive clips
    y_true, _ = tagging_data(30, 6, 8)
    y_score = np.zeros(y_true.shape)
    n_positive = y_true.sum(axis=1)
    expected = (n_positive * n_positive / 6).sum() / n_positive.sum()
    assert lwlrap_score(y_true, y_score) == pytest.approx(expected, rel=1e-14)
    kept = y_true.any(axis=0)
    assert mean_average_precision(y_true, y_score) == pytest.approx(y_true.mean(axis=0)[kept].mean(), rel=1e-14)


def test_one_class():
    assert lwlrap_score([[1], [0]], [[0.3], [0.9]]) == 1.0
    assert mean_average_precision([[1], [0]], [[0.3], [0.9]]) == 0.5


def test_lwlrap_weighs_labels_by_frequency_where_lrap_weighs_clips():
    y_true = np.array([[1, 0, 0], [1, 1, 1]])
    y_score = np.array([[0.1, 0.2, 0.3], [0.3, 0.2, 0.1]])
    assert label_ranking_average_precision_score(y_true, y_score) == pytest.approx((1 / 3 + 1) / 2)
    assert lwlrap_score(y_true, y_score) == pytest.approx((1 / 3 + 3) / 4)


def test_lwlrap_leaves_out_clips_without_a_positive_label():
    y_true, y_score = tagging_data(30, 5, 0)
    with_empty = np.vstack([y_true, np.zeros((4, 5), dtype=np.int64)])
    scores = np.vstack([y_score, np.random.default_rng(1).random((4, 5))])
    assert lwlrap_score(with_empty, scores) == lwlrap_score(y_true, y_score)


def test_lwlrap_does_not_depend_on_the_order_of_clips_or_classes():
    y_true, y_score = tagging_data(30, 6, 2, n_levels=3)
    rng = np.random.default_rng(0)
    rows, cols = rng.permutation(30), rng.permutation(6)
    assert lwlrap_score(y_true[rows][:, cols], y_score[rows][:, cols]) == pytest.approx(lwlrap_score(y_true, y_score))


def test_scores_are_the_same_across_blocks(monkeypatch):
    y_true, y_score = tagging_data(50, 7, 3, n_levels=4)
    whole = lwlrap_score(y_true, y_score), mean_average_precision(y_true, y_score)
    monkeypatch.setattr(_tagging, "BLOCK_ELEMENTS", 10)  # one row per block, and blocks of 1 clip for mAP
    assert (lwlrap_score(y_true, y_score), mean_average_precision(y_true, y_score)) == pytest.approx(whole, rel=1e-14)


@pytest.mark.parametrize("score", [lwlrap_score, mean_average_precision])
def test_torch_bool_and_float32_inputs_score_as_arrays(score):
    y_true, y_score = tagging_data(30, 5, 4, n_levels=8)  # values exact in float32
    expected = score(y_true, y_score)
    assert score(torch.as_tensor(y_true).bool(), torch.as_tensor(y_score, dtype=torch.float32)) == expected
    assert score(y_true.astype(bool), y_score.astype(np.float32)) == expected
    assert score(y_true.astype(np.float64), y_score) == expected  # 0.0 / 1.0 are 0/1
    assert score(y_true.tolist(), y_score.tolist()) == expected


@pytest.mark.parametrize("score", [lwlrap_score, mean_average_precision])
def test_caller_arrays_are_never_written(score):
    y_true, y_score = tagging_data(20, 4, 5)
    copies = y_true.copy(), y_score.copy()
    for array in (y_true, y_score):
        array.setflags(write=False)  # any write would raise
    score(y_true, y_score)
    score(y_true[::-1], y_score[::-1])  # reversed views
    np.testing.assert_array_equal(y_true, copies[0])
    np.testing.assert_array_equal(y_score, copies[1])


@pytest.mark.parametrize("score", [lwlrap_score, mean_average_precision])
@pytest.mark.parametrize(
    ("y_true", "y_score", "error", "match"),
    [
        ([[0, 0], [0, 0]], [[0.1, 0.2], [0.3, 0.4]], ValueError, "no (positive label|class of y_true has a positive)"),
        ([[1, 0]], [[0.1, 0.2], [0.3, 0.4]], ValueError, r"same shape; got \(1, 2\) and \(2, 2\)"),
        ([[1, 0]], [[np.nan, 0.2]], ValueError, "y_score contains NaN"),
        ([[1, 0]], [[np.inf, 0.2]], ValueError, "y_score contains infinity"),
        ([[1, 2]], [[0.1, 0.2]], ValueError, "0/1 or bool; got 2 at row 0, column 1"),
        ([[1, 0.5]], [[0.1, 0.2]], ValueError, "0/1 or bool; got 0.5"),
        (np.array([["a", "b"]]), [[0.1, 0.2]], TypeError, "0/1 or bool; got dtype <U1"),
        ([1, 0], [0.1, 0.2], ValueError, "Expected 2D array"),
    ],
)
def test_bad_inputs_are_refused_by_name(score, y_true, y_score, error, match):
    with pytest.raises(error, match=match):
        score(y_true, y_score)


@pytest.mark.parametrize(
    ("weights", "match"),
    [
        ([0.0, 1.0], "every clip with a positive label has sample_weight 0"),
        ([1.0, -1.0], "non-negative"),
        ([1.0], r"shape \(2,\), one weight per clip"),
        ([1.0, np.nan], "sample_weight contains NaN"),
    ],
)
def test_lwlrap_bad_sample_weight(weights, match):
    with pytest.raises(ValueError, match=match):
        lwlrap_score([[1, 0], [0, 0]], [[0.1, 0.2], [0.3, 0.4]], sample_weight=weights)


# ------------------------------------------------------------------ mean average precision
@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("n_levels", [None, 3])
def test_average_precision_per_class_is_sklearns(seed, n_levels):
    y_true, y_score = tagging_data(40, 6, seed, n_levels=n_levels)
    per_class = []
    for c in range(6):
        if not y_true[:, c].any():
            continue
        ours = mean_average_precision(y_true[:, [c]], y_score[:, [c]])
        assert ours == pytest.approx(average_precision_score(y_true[:, c], y_score[:, c]), rel=1e-12)
        assert ours == pytest.approx(brute_ap(y_true[:, c], y_score[:, c]), rel=1e-12)
        per_class.append(ours)
    assert mean_average_precision(y_true, y_score) == pytest.approx(np.mean(per_class), rel=1e-12)


def test_mean_average_precision_equals_sklearns_macro_when_every_class_has_a_positive():
    y_true, y_score = tagging_data(60, 5, 7, n_levels=5)
    assert y_true.any(axis=0).all()
    expected = average_precision_score(y_true, y_score, average="macro")
    assert mean_average_precision(y_true, y_score) == pytest.approx(expected, rel=1e-12)


def test_classes_without_a_positive_are_left_out_of_the_mean():
    y_true = np.array([[1, 0, 0], [0, 1, 0], [1, 0, 0]])
    y_score = np.array([[0.9, 0.1, 0.3], [0.8, 0.7, 0.2], [0.4, 0.2, 0.1]])
    assert mean_average_precision(y_true, y_score) == pytest.approx(((1 + 2 / 3) / 2 + 1) / 2)
    assert mean_average_precision(y_true, y_score) == mean_average_precision(y_true[:, :2], y_score[:, :2])


def test_average_precision_ties_form_one_threshold():
    # clips tied at the top, one positive among two: precision 1/2 at recall 1
    assert mean_average_precision([[1], [0]], [[0.5], [0.5]]) == 0.5
    assert average_precision_score([1, 0], [0.5, 0.5]) == 0.5


# ------------------------------------------------------------------ hierarchical P/R/F on closures
TREE_NODES = ["A", "A/x", "A/x/1", "A/x/2", "A/y", "A/y/1", "B", "B/z", "B/z/1", "B/w", "C", "C/x", "C/x/1"]
TREE = Taxonomy(TREE_NODES)  # nodes at every depth, not sample labels


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("average", ["micro", "macro"])
@pytest.mark.parametrize("beta", [1.0, 0.5])
def test_hierarchical_scores_on_a_tree_match_the_definition(seed, average, beta):
    true, pred = random_sets(TREE_NODES, 30, seed), random_sets(TREE_NODES, 30, seed + 100)
    expected = brute_prf(true, pred, path_closure, beta=beta, average=average)
    assert PRF(true, pred, TREE, beta=beta, average=average) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("average", ["micro", "macro"])
def test_hierarchical_scores_on_a_dag_match_the_definition(seed, average):
    nodes = list(PARENTS)
    true, pred = random_sets(nodes, 30, seed), random_sets(nodes, 30, seed + 100)
    expected = brute_prf(true, pred, dag_closure, average=average)
    assert PRF(true, pred, DagStub(), average=average) == pytest.approx(expected, rel=1e-12)


def test_a_node_with_two_parents_closes_over_both_paths():
    # {Bark, Dog, Domestic, Canine, Animal} against {Wolf, Wild, Canine, Animal}: 2 nodes in common
    hp, hr, hf = PRF([{"Bark"}], [{"Wolf"}], DagStub())
    assert (hp, hr) == (2 / 4, 2 / 5)
    assert hf == pytest.approx(2 * 0.5 * 0.4 / 0.9)
    # Howl sits under Dog and Wolf: predicting Wolf for it misses only Howl, Dog and Domestic
    assert PRF([{"Howl"}], [{"Wolf"}], DagStub())[:2] == (1.0, 4 / 7)


def test_single_label_paths_give_the_path_overlap():
    # LCA depths 2 and 1 over predicted depths 3 + 1 and true depths 3 + 3
    scores = PRF(["A/x/1", "B/z/1"], ["A/x/2", "B"], TREE)
    assert scores[:2] == (3 / 4, 3 / 6)


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("average", ["micro", "macro"])
def test_one_label_per_clip_on_a_tree_is_the_single_label_score(seed, average):
    rng = np.random.default_rng(seed)
    leaves = list(TREE.leaves)
    true = np.array(leaves, dtype=object)[rng.integers(0, len(leaves), 40)]
    pred = np.array(TREE_NODES + [""], dtype=object)[rng.integers(0, len(TREE_NODES) + 1, 40)]
    expected = hierarchical_precision_recall_fscore(true, pred, average=average)
    got = PRF([{t} for t in true], [{p} for p in pred], TREE, average=average)
    assert got == pytest.approx(expected, rel=1e-15)
    assert PRF(true, pred, TREE, average=average) == got  # one str per clip is one label


def test_empty_sets_the_root_and_redundant_ancestors():
    true = [{"A/x/1"}, {"B/z/1"}]
    # an empty prediction adds nothing to the micro precision, only misses to the recall
    assert PRF(true, [{"A/x/1"}, set()], TREE) == pytest.approx((1.0, 0.5, 2 / 3))
    # under macro its precision is 0
    assert PRF(true, [{"A/x/1"}, set()], TREE, average="macro") == pytest.approx((0.5, 0.5, 0.5))
    # the root's key (hiclass's padding) is no label; a label beside its own ancestor counts once
    assert PRF(true, [{"A/x/1"}, {""}], TREE) == PRF(true, [{"A/x/1"}, set()], TREE)
    assert PRF(true, [{"A/x/1", "A"}, set()], TREE) == PRF(true, [{"A/x/1"}, set()], TREE)
    # an empty true set: its predictions are all false positives; macro recall 0 for it
    assert PRF([set(), {"A"}], [{"B"}, {"A"}], TREE) == pytest.approx((0.5, 1.0, 2 / 3))
    assert PRF([set(), {"A"}], [{"B"}, {"A"}], TREE, average="macro") == pytest.approx((0.5, 0.5, 0.5))
    # nothing predicted and nothing true anywhere: every ratio is 0, as in the single-label score
    assert PRF([set()], [set()], TREE) == (0.0, 0.0, 0.0)
    assert all(math.isnan(v) for v in PRF([], [], TREE))


def test_indicator_matrices_with_labels_score_as_label_sets():
    labels = ["A/x/1", "A/y", "B/z/1", "C"]
    true = np.array([[1, 0, 1, 0], [0, 1, 0, 0], [0, 0, 0, 1]])
    pred = np.array([[1, 0, 0, 0], [0, 0, 1, 1], [0, 0, 0, 0]], dtype=bool)
    as_sets = [{labels[j] for j in np.flatnonzero(row)} for row in (true, pred) for row in row]
    true_sets, pred_sets = as_sets[:3], as_sets[3:]
    expected = PRF(true_sets, pred_sets, TREE, average="macro")
    assert PRF(true, pred, TREE, labels=labels, average="macro") == expected
    assert PRF(true_sets, pred, TREE, labels=labels, average="macro") == expected
    assert PRF(torch.as_tensor(true), pred_sets, TREE, labels=np.array(labels), average="macro") == expected
    assert multilabel_hierarchical_f1_score(true, pred, TREE, labels=labels) == PRF(true_sets, pred_sets, TREE)[2]


@pytest.mark.parametrize(
    ("y_true", "y_pred", "kwargs", "error", "match"),
    [
        ([{"A/x"}, {"A/q"}], [{"A"}, {"B"}], {}, ValueError, r"Unknown label 'A/q' in y_true\[1\]"),
        ([{"A/x"}, {"B"}], [{"A"}, {"B", "Z"}], {}, ValueError, r"Unknown label 'Z' in y_pred\[1\]"),
        ([{"A"}], np.array([[0, 0]]), {"labels": ["A", "Nope"]}, ValueError, "Unknown label 'Nope' in labels"),
        ([["A", "A/x"]], [{"A"}], {}, TypeError, r"y_true\[0\] is a list; a clip's labels are a set"),
        ({"A", "B"}, [{"A"}, {"B"}], {}, TypeError, "one label set per clip, not a single set"),
        ([{"A"}, {"B"}], [{"A"}], {}, ValueError, "y_true has 2 clips but y_pred has 1"),
        ([{"A"}], np.array([[1, 0]]), {}, ValueError, "y_pred is a 2-D indicator matrix; pass labels="),
        ([{"A"}], [{"B"}], {"labels": ["A"]}, ValueError, "both label sets"),
        ([{"A"}], np.array([[1, 0]]), {"labels": ["A"]}, ValueError, "2 columns but labels names 1"),
        ([{"A"}], np.array([[1, 0]]), {"labels": ["A", "A"]}, ValueError, "labels names 'A' twice"),
        ([{"A"}], np.array([[2, 0]]), {"labels": ["A", "B"]}, ValueError, "0/1 or bool; got 2"),
        (np.array([["A", "x"]]), [{"A"}], {}, TypeError, "per-level rows are not label sets"),
    ],
)
def test_hierarchical_bad_inputs_are_refused_by_name(y_true, y_pred, kwargs, error, match):
    with pytest.raises(error, match=match):
        PRF(y_true, y_pred, TREE, **kwargs)


def test_hiclass_agrees_where_names_are_unique():
    metrics = pytest.importorskip("hiclass.metrics")
    unique = Taxonomy.from_paths(["A/p/1", "A/p/2", "A/q", "B/r/3", "B/s", "C", "D/t/4/5"])
    nodes = [node for node in unique.nodes if node]
    for seed in range(20):
        true = [s or {"C"} for s in random_sets(nodes, 30, seed, max_labels=4)]  # hiclass divides by zero on
        pred = [s or {"A"} for s in random_sets(nodes, 30, seed + 100, max_labels=4)]  # an empty set
        # hiclass's 3-D y: per clip, one row of names per label, padded with "". It zips the rows of y_true
        # with those of y_pred, so both need the same number of rows.
        width = max(len(s) for s in true + pred)

        def padded(sets, width=width):
            rows = [[label.split("/") for label in sorted(s)] for s in sets]
            rows = [[r + [""] * (4 - len(r)) for r in clip] + [[""] * 4] * (width - len(clip)) for clip in rows]
            return np.array(rows, dtype=object)

        for average in ("micro", "macro"):
            peer = (metrics.precision, metrics.recall, metrics.f1)
            expected = tuple(f(padded(true), padded(pred), average=average) for f in peer)
            assert PRF(true, pred, unique, average=average) == pytest.approx(expected, rel=1e-12)


# ------------------------------------------------------------------ scorers
@pytest.fixture(scope="module")
def multilabel_data():
    X, y = make_multilabel_classification(n_samples=90, n_features=8, n_classes=5, random_state=0)
    return X, y


def fold_scores(model, X, y, score):
    """What a scorer should give on each fold of KFold(3), computed by hand."""
    out = []
    for train, test in KFold(3).split(X):
        fitted = model.fit(X[train], y[train])
        out.append(score(fitted, X[test], y[test]))
    return np.array(out)


def test_scorers_in_cross_validate_call_predict_proba(multilabel_data):
    X, y = multilabel_data
    model = OneVsRestClassifier(LogisticRegression())
    results = cross_validate(model, X, y, cv=KFold(3), scoring=tagging_scorers())
    for name, score in [("lwlrap", lwlrap_score), ("mean_average_precision", mean_average_precision)]:
        expected = fold_scores(model, X, y, lambda m, X_, y_, f=score: f(y_, m.predict_proba(X_)))
        np.testing.assert_allclose(results[f"test_{name}"], expected, rtol=1e-12)


def test_scorers_read_a_forests_list_of_probabilities(multilabel_data):
    X, y = multilabel_data
    model = RandomForestClassifier(n_estimators=5, random_state=0)
    results = cross_validate(model, X, y, cv=KFold(3), scoring=tagging_scorers())

    def positive_column(m, X_):
        return np.stack([p[:, 1] for p in m.predict_proba(X_)], axis=1)

    expected = fold_scores(model, X, y, lambda m, X_, y_: lwlrap_score(y_, positive_column(m, X_)))
    np.testing.assert_allclose(results["test_lwlrap"], expected, rtol=1e-12)


def test_hierarchical_f1_scorer_reads_predict_with_labels(multilabel_data):
    X, y = multilabel_data
    labels = ["A/x/1", "A/x/2", "A/y", "B/z/1", "C"]
    model = OneVsRestClassifier(LogisticRegression())
    scorers = tagging_scorers(taxonomy=TREE, labels=labels)
    results = cross_validate(model, X, y, cv=KFold(3), scoring=scorers)

    def by_hand(m, X_, y_):
        return multilabel_hierarchical_f1_score(y_, m.predict(X_), TREE, labels=labels)

    np.testing.assert_allclose(results["test_hierarchical_f1"], fold_scores(model, X, y, by_hand), rtol=1e-12)
    assert pickle.loads(pickle.dumps(scorers))["hierarchical_f1"]._kwargs["taxonomy"] == TREE


def test_scorers_need_labels_with_a_taxonomy():
    with pytest.raises(ValueError, match="taxonomy and labels go together"):
        tagging_scorers(taxonomy=TREE)
