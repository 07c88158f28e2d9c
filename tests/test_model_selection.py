import math
from pathlib import Path

import numpy as np
import pytest
from _ontology import BARK, DOG, HOWL, ONTOLOGY
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.dummy import DummyClassifier
from sklearn.model_selection import GridSearchCV, cross_val_score, cross_validate
from sklearn.utils import check_random_state

from sklearn_hier.model_selection import UnseenLabelKFold, UnseenLeafKFold
from sklearn_hier.taxonomy import Taxonomy


def labels_from_counts(counts, seed):
    # Leaves of a two-level tree, in shuffled sample order.
    y = np.repeat(np.array([f"f{i % 3}/leaf{i}" for i in range(len(counts))], dtype=object), counts)
    return y[np.random.default_rng(seed).permutation(len(y))]


@st.composite
def protocols(draw):
    counts = draw(st.lists(st.integers(1, 25), min_size=2, max_size=12))
    return {
        "counts": counts,
        "n_splits": draw(st.integers(2, 5)),
        "min_samples_leaf": draw(st.integers(1, 12)),
        "test_size": draw(st.sampled_from([0.0, 0.1, 0.25, 0.5, 0.9])),
        "seed": draw(st.integers(0, 2**16)),
    }


@settings(max_examples=60, deadline=None)
@given(protocols())
def test_folds_partition_hide_each_eligible_leaf_once_and_hold_out_the_rest(p):
    y = labels_from_counts(p["counts"], p["seed"])
    cv = UnseenLeafKFold(
        p["n_splits"], min_samples_leaf=p["min_samples_leaf"], test_size=p["test_size"], random_state=p["seed"]
    )
    X = np.zeros((len(y), 1))
    leaves, counts = np.unique(y, return_counts=True)
    eligible = set(leaves[counts >= p["min_samples_leaf"]])
    if len(eligible) < p["n_splits"]:
        with pytest.raises(ValueError, match=f"n_splits={p['n_splits']} cannot exceed"):
            list(cv.split(X, y))
        return
    folds = list(cv.split(X, y))
    assert len(folds) == cv.get_n_splits() == p["n_splits"]
    hidden_in = {leaf: 0 for leaf in eligible}
    for train, test in folds:
        assert len(np.intersect1d(train, test)) == 0
        np.testing.assert_array_equal(np.sort(np.r_[train, test]), np.arange(len(y)))
        for leaf, n in zip(leaves, counts, strict=True):
            n_train, n_test = np.sum(y[train] == leaf), np.sum(y[test] == leaf)
            if leaf not in eligible:
                assert n_train == 0 and n_test == n
            elif n_train == 0:
                hidden_in[leaf] += 1
            else:
                assert n_test == min(math.ceil(p["test_size"] * n - 1e-9), n - 1)
    assert set(hidden_in.values()) == {1}
    again = list(cv.split(X, y))
    for (train_a, test_a), (train_b, test_b) in zip(folds, again, strict=True):
        np.testing.assert_array_equal(train_a, train_b)
        np.testing.assert_array_equal(test_a, test_b)


@settings(max_examples=20, deadline=None)
@given(protocols())
def test_unshuffled_folds_are_deterministic_and_deal_leaves_in_order(p):
    y = labels_from_counts(p["counts"], p["seed"])
    cv = UnseenLeafKFold(p["n_splits"], min_samples_leaf=1, test_size=p["test_size"], shuffle=False)
    if len(p["counts"]) < p["n_splits"]:
        return
    X = np.zeros((len(y), 1))
    first = [test for _, test in cv.split(X, y)]
    hidden = [sorted(set(y[test]) - set(y[train])) for train, test in cv.split(X, y)]
    assert [leaf for fold in hidden for leaf in fold] == sorted(set(y))
    for test, again in zip(first, (test for _, test in cv.split(X, y)), strict=True):
        np.testing.assert_array_equal(test, again)


def test_seen_leaf_keeps_its_last_clips_for_testing_without_shuffle():
    y = np.array(["a/x"] * 10 + ["a/y"] * 10 + ["b/z"] * 3, dtype=object)
    cv = UnseenLeafKFold(2, min_samples_leaf=5, test_size=0.2, shuffle=False)
    (train0, test0), (train1, test1) = cv.split(np.zeros((23, 1)), y)
    # fold 0 hides a/x (0-9) and b/z (always), holds out the last 2 of a/y
    np.testing.assert_array_equal(test0, [*range(10), 18, 19, 20, 21, 22])
    np.testing.assert_array_equal(test1, [8, 9, *range(10, 23)])


def test_two_dimensional_y_gives_the_same_folds_as_paths():
    y = labels_from_counts([5, 6, 7, 8], seed=0)
    y2 = np.array([p.split("/") for p in y], dtype=object)
    cv = UnseenLeafKFold(2, min_samples_leaf=1, random_state=3)
    for (_, a), (_, b) in zip(cv.split(y, y), cv.split(y2, y2), strict=True):
        np.testing.assert_array_equal(a, b)


def test_works_with_cross_validate_cross_val_score_and_grid_search():
    y = labels_from_counts([12, 12, 12, 12, 4], seed=1)
    X = np.random.default_rng(0).standard_normal((len(y), 3))
    cv = UnseenLeafKFold(4, random_state=0)
    assert len(cross_val_score(DummyClassifier(), X, y, cv=cv)) == 4
    assert len(cross_validate(DummyClassifier(), X, y, cv=cv)["test_score"]) == 4
    search = GridSearchCV(DummyClassifier(), {"strategy": ["most_frequent", "uniform"]}, cv=cv).fit(X, y)
    assert search.n_splits_ == 4


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"n_splits": 1}, "'n_splits' parameter of UnseenLeafKFold"),
        ({"min_samples_leaf": 0}, "'min_samples_leaf' parameter"),
        ({"test_size": 1.0}, "'test_size' parameter"),
        ({"shuffle": False, "random_state": 3}, "random_state=3 has no effect since shuffle is False"),
    ],
)
def test_bad_parameters_are_named_at_split_time(params, message):
    cv = UnseenLeafKFold(**params)
    assert all(getattr(cv, name) == value for name, value in params.items())  # stored untouched
    with pytest.raises(ValueError, match=message):
        list(cv.split(np.zeros((4, 1)), ["a", "b", "c", "d"]))


def test_missing_y_and_ignored_groups():
    cv = UnseenLeafKFold(2, min_samples_leaf=1)
    with pytest.raises(ValueError, match="needs y"):
        list(cv.split(np.zeros((4, 1))))
    with pytest.warns(UserWarning, match="ignores groups"):
        list(cv.split(np.zeros((4, 1)), ["a", "b", "c", "d"], groups=[0, 0, 1, 1]))


def test_repr_shows_parameters():
    assert repr(UnseenLeafKFold(3, random_state=1)) == (
        "UnseenLeafKFold(min_samples_leaf=10, n_splits=3, random_state=1, shuffle=True,\n        test_size=0.1)"
    )


def test_default_folds_are_the_same_at_every_call():
    # As with scikit-learn's splitters: two models scored with cv=UnseenLeafKFold() meet the same folds.
    y = np.repeat(np.array([f"f{i // 3}/l{i}" for i in range(12)], dtype=object), 10)
    X = np.zeros((len(y), 1))
    first, second = list(UnseenLeafKFold(3).split(X, y)), list(UnseenLeafKFold(3).split(X, y))
    seeded = list(UnseenLeafKFold(3, random_state=0).split(X, y))
    for (a_train, a_test), (b_train, b_test), (c_train, _) in zip(first, second, seeded, strict=True):
        np.testing.assert_array_equal(a_train, b_train)
        np.testing.assert_array_equal(a_test, b_test)
        np.testing.assert_array_equal(a_train, c_train)
    unshuffled = UnseenLeafKFold(3, shuffle=False)  # the default seed is not an error here
    assert len(list(unshuffled.split(X, y))) == 3


# ------------------------------------------------------- UnseenLabelKFold (label sets)
def _same_folds(a, b):
    a, b = list(a), list(b)
    assert len(a) == len(b)
    for (train_a, test_a), (train_b, test_b) in zip(a, b, strict=True):
        np.testing.assert_array_equal(train_a, train_b)
        np.testing.assert_array_equal(test_a, test_b)


@settings(max_examples=60, deadline=None)
@given(protocols(), st.booleans())
def test_label_folds_equal_leaf_folds_on_single_label_trees(p, shuffle):
    y = labels_from_counts(p["counts"], p["seed"])
    params = {"min_samples_leaf": p["min_samples_leaf"], "test_size": p["test_size"], "shuffle": shuffle}
    params["random_state"] = p["seed"] if shuffle else None
    leaf_cv, label_cv = UnseenLeafKFold(p["n_splits"], **params), UnseenLabelKFold(p["n_splits"], **params)
    X = np.zeros((len(y), 1))
    try:
        expected = list(leaf_cv.split(X, y))
    except ValueError:
        with pytest.raises(ValueError, match=f"n_splits={p['n_splits']} cannot exceed the number of eligible labels"):
            list(label_cv.split(X, y))
        return
    _same_folds(label_cv.split(X, y), expected)
    _same_folds(label_cv.split(X, [{label} for label in y]), expected)  # as one-label sets
    y2 = np.array([path.split("/") for path in y], dtype=object)
    _same_folds(label_cv.split(X, y2), expected)  # 2-D, one column per level


def test_label_folds_equal_leaf_folds_on_the_papers_protocol():
    lines = (Path(__file__).parent / "data" / "orchideasol_leaf_counts.csv").read_text().splitlines()
    rows = [line.rsplit(",", 1) for line in lines if line and not line.startswith("#")][1:]
    y = np.repeat(np.array([path for path, _ in rows], dtype=object), [int(n) for _, n in rows])
    X = np.zeros((len(y), 1))
    _same_folds(UnseenLabelKFold(5).split(X, y), UnseenLeafKFold(5).split(X, y))


@st.composite
def multilabel_protocols(draw):
    # Label sets over a two-level tree: leaf labels, and inner labels ("f0") beside them or alone.
    leaves = [f"f{i % 3}/l{i}" for i in range(draw(st.integers(2, 9)))]
    vocabulary = leaves + ["f0", "f1"]
    sets = draw(st.lists(st.sets(st.sampled_from(vocabulary), min_size=1, max_size=3), min_size=2, max_size=60))
    return {
        "y": sets,
        "n_splits": draw(st.integers(2, 4)),
        "min_samples_leaf": draw(st.integers(1, 6)),
        "test_size": draw(st.sampled_from([0.0, 0.1, 0.25, 0.5])),
        "seed": draw(st.integers(0, 2**16)),
    }


@settings(max_examples=80, deadline=None)
@given(multilabel_protocols())
def test_label_folds_hide_each_eligible_label_once_and_never_train_on_it(p):
    y = p["y"]
    cv = UnseenLabelKFold(
        p["n_splits"], min_samples_leaf=p["min_samples_leaf"], test_size=p["test_size"], random_state=p["seed"]
    )
    tax = Taxonomy.from_y(y)
    leaf_labels = list(tax.leaves)  # the labels with no other label of y below them
    clips = {label: {i for i, labels in enumerate(y) if label in labels} for label in leaf_labels}
    eligible = [label for label in leaf_labels if len(clips[label]) >= p["min_samples_leaf"]]
    rare = {i for label in leaf_labels if label not in eligible for i in clips[label]}
    X = np.zeros((len(y), 1))
    if len(eligible) < p["n_splits"]:
        with pytest.raises(ValueError, match="cannot exceed the number of eligible labels"):
            list(cv.split(X, y))
        return
    # The documented dealing: the eligible labels, in leaf order, shuffled once and split into n_splits chunks.
    order = check_random_state(p["seed"]).permutation(len(eligible))
    chunks = [[eligible[i] for i in chunk] for chunk in np.array_split(order, p["n_splits"])]
    folds = list(cv.split(X, y))
    held_out_in = {label: 0 for label in eligible}
    for (train, test), chunk in zip(folds, chunks, strict=True):
        np.testing.assert_array_equal(np.sort(np.r_[train, test]), np.arange(len(y)))
        trained = set().union(*(y[i] for i in train))
        forced = rare | {i for label in chunk for i in clips[label]}
        assert forced <= set(test.tolist())  # a clip carrying a held-out (or rare) label is a test clip
        for label in chunk:
            held_out_in[label] += 1
            assert label not in trained  # no training clip carries a held-out label
        for label in set(eligible) - set(chunk):
            if not clips[label] <= forced:  # a seen label keeps a training clip unless all its clips are forced
                assert label in trained
        # The lowest seen ancestors of a held-out label are seen ancestors of it (or the root).
        seen = tax.restrict([y[i] for i in train]) if len(train) else Taxonomy([])
        for label in chunk:
            lowest = tax.lowest_seen_ancestors(label, seen)
            assert lowest == ("",) or set(lowest) <= set(seen.nodes) & set(tax.ancestors(label))
    assert set(held_out_in.values()) == {1}
    _same_folds(folds, cv.split(X, y))  # the same folds at every call


def test_seen_test_share_counts_the_clips_without_a_held_out_label():
    # Polyphonic data: most clips of a seen label also carry a held-out one, and go to the test set as unseen
    # clips. The seen test set is test_size of the remaining clips of each seen label, not nothing.
    y = [{"a"}] * 20 + [{"b"}] * 20 + [{"c"}] * 20 + [{"a", "b"}] * 20 + [{"b", "c"}] * 20 + [{"a", "c"}] * 20
    cv = UnseenLabelKFold(3, min_samples_leaf=1, test_size=0.25, random_state=0)
    for train, test in cv.split(np.zeros((len(y), 1)), y):
        hidden = set().union(*(y[i] for i in test)) - set().union(*(y[i] for i in train))
        assert len(hidden) == 1
        unforced = [i for i, labels in enumerate(y) if not labels & hidden]
        in_test = set(test.tolist())
        for label in {"a", "b", "c"} - hidden:
            own = [i for i in unforced if label in y[i]]
            assert len(own) == 40
            assert sum(i in in_test for i in own) >= 10  # ceil(0.25 * 40), some drawn for the other label
        assert 10 <= sum(i in in_test for i in unforced) <= 20


def test_label_folds_on_an_ontology():
    tax = Taxonomy.from_ontology(ONTOLOGY)
    speech, guitar, children = "/m/09x0r", "/m/0342h", "/t/dd00013"
    y = [{BARK}, {BARK, DOG}, {HOWL}, {HOWL, speech}, {speech}, {speech, guitar}, {guitar}, {guitar, BARK}, {DOG}]
    y = y * 2 + [{children}]
    cv = UnseenLabelKFold(2, min_samples_leaf=2, test_size=0.0, random_state=0, taxonomy=tax)
    X = np.zeros((len(y), 1))
    hidden_per_fold = []
    for train, test in cv.split(X, y):
        assert len(y) - 1 in test  # the one clip of a rare label is never trained on
        seen = tax.restrict([y[i] for i in train])
        hidden = {label for label in (BARK, HOWL, speech, guitar) if label not in seen}
        hidden_per_fold.append(hidden)
        assert all(not (y[i] & hidden) for i in train)
        if HOWL in hidden and DOG in seen:  # Howl is heard as its seen ancestors
            assert DOG in tax.lowest_seen_ancestors(HOWL, seen)
    assert set().union(*hidden_per_fold) == {BARK, HOWL, speech, guitar}
    with pytest.raises(ValueError, match=r"has an empty name"):
        list(UnseenLabelKFold(2, min_samples_leaf=1).split(X, y))  # ids read as paths without the taxonomy


def test_label_folds_errors_and_repr():
    with pytest.raises(ValueError, match="UnseenLabelKFold needs y"):
        list(UnseenLabelKFold(2).split(np.zeros((4, 1))))
    with pytest.warns(UserWarning, match="UnseenLabelKFold ignores groups"):
        list(UnseenLabelKFold(2, min_samples_leaf=1).split(np.zeros((2, 1)), [{"a"}, {"b"}], groups=[0, 1]))
    with pytest.raises(ValueError, match="'taxonomy' parameter of UnseenLabelKFold"):
        list(UnseenLabelKFold(2, taxonomy="tree").split(np.zeros((2, 1)), [{"a"}, {"b"}]))
    with pytest.raises(ValueError, match="Sample 1 has no label"):
        list(UnseenLabelKFold(2, min_samples_leaf=1).split(np.zeros((2, 1)), [{"a"}, set()]))
    assert " ".join(repr(UnseenLabelKFold(3)).split()) == (
        "UnseenLabelKFold(min_samples_leaf=10, n_splits=3, random_state=0, shuffle=True, taxonomy=None, test_size=0.1)"
    )
