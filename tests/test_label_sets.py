"""The multi-label contract (issue 24): label_sets, is_multilabel, indicator_matrix and from_label_sets.

Each decision the contract makes for an ambiguous case has a test here, named for the decision.
"""

import copy

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import sparse

from sklearn_hier.taxonomy import Taxonomy, indicator_matrix, is_multilabel, label_paths, label_sets

TREE = Taxonomy.from_paths(["a/x", "a/y", "b/z"])
DAG = Taxonomy.from_parents({"/m/b": ["/m/a"], "/m/c": ["/m/a"], "/m/d": ["/m/b", "/m/c"]})


def fs(*labels):
    return frozenset(labels)


# --------------------------------------------------------------- the forms
@pytest.mark.parametrize(
    ("y", "multilabel"),
    [
        ([{"a/x"}, {"b"}], True),
        ((frozenset({"a/x"}), "b"), True),
        ([{"a/x"}, "b"], True),  # one set makes the sequence one of label sets
        (np.array([{"a"}, {"b"}], dtype=object), True),
        (pd.Series([{"a"}, {"b", "c"}]), True),
        (np.array([[["a", "x"], ["b", ""]]], dtype=object), True),  # 3-D: hiclass multi-label
        (np.array([[True, False]]), True),
        ([[True, False], [False, True]], True),  # bools were never labels
        (sparse.csr_matrix(np.eye(2, dtype=int)), True),
        (["a/x", "b"], False),
        ([["a", "x"], ["b", ""]], False),  # lists of names: per-level rows, as ever
        ([("a", "x"), ("b", "y")], False),
        (np.array([[0, 1], [1, 0]]), False),  # 2-D ints: per-level columns unless classes are named
        ([3, 7], False),
        ([], False),
        ("a/x", False),
    ],
)
def test_is_multilabel_decides_by_the_container(y, multilabel):
    assert is_multilabel(y) is multilabel


def test_every_single_label_form_keeps_its_meaning():
    # The documented single-label examples of label_paths stay single-label, and read as one-label sets.
    for y in [[3, 7], [1.0, 2.0], ["a/x", "b"], [["a", "x"], ["b", None]], [[1, 2], [1, 3]], ("a", "b")]:
        assert not is_multilabel(y)
        assert label_sets(y) == tuple(frozenset({p}) for p in label_paths(y, leaves=False))


def test_sets_of_paths_and_single_strings():
    assert label_sets([{"a/x", "b"}, "b", frozenset({"a/y"})]) == (fs("a/x", "b"), fs("b"), fs("a/y"))
    assert label_sets(pd.Series([{"a"}, {"b", "c"}])) == (fs("a"), fs("b", "c"))
    assert label_sets(iter([{"a"}, {"b"}])) == (fs("a"), fs("b"))  # a generator is read once
    assert label_sets([{3, 7}, {7}]) == (fs("3", "7"), fs("7"))  # flat int labels, as label_paths writes them
    assert label_sets([]) == ()


def test_hiclass_three_dimensional_form():
    y = np.array(
        [
            [["a", "x"], ["b", "z"], ["", ""]],  # padding row
            [["a", ""], ["", ""], [None, None]],  # a path that ends early; None pads too
        ],
        dtype=object,
    )
    assert label_sets(y) == (fs("a/x", "b/z"), fs("a"))
    assert Taxonomy.from_label_sets(y) == Taxonomy.from_paths(["a/x", "b/z"])
    with pytest.raises(ValueError, match="Row 0 of y has a gap"):
        label_sets([[["a", "", "x"]]])


def test_indicator_matrices():
    columns = TREE.nodes[1:]  # ('a', 'b', 'a/x', 'a/y', 'b/z')
    Y = np.array([[0, 0, 1, 0, 1], [1, 0, 0, 0, 0]], dtype=bool)
    assert label_sets(Y, taxonomy=TREE) == (fs("a/x", "b/z"), fs("a"))
    assert label_sets(sparse.csr_matrix(Y.astype(int)), taxonomy=TREE) == (fs("a/x", "b/z"), fs("a"))
    assert label_sets(Y.tolist(), taxonomy=TREE) == (fs("a/x", "b/z"), fs("a"))
    ints = Y.astype(np.int64)
    assert label_sets(ints, classes=columns) == label_sets(Y, taxonomy=TREE)  # 0/1 ints, columns named
    assert label_sets(ints[:, ::-1], classes=columns[::-1], taxonomy=TREE) == label_sets(Y, taxonomy=TREE)
    assert label_sets(np.array([[1, 0]]), classes=["x", "z"], taxonomy=TREE) == (fs("a/x"),)  # leaf names resolve
    coo = sparse.coo_matrix(Y)
    before = coo.copy()
    label_sets(coo, taxonomy=TREE)
    assert (coo != before).nnz == 0


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: label_sets(np.array([[True, False]])), ValueError, "pass classes= to name its columns, or taxonomy="),
        (lambda: label_sets(np.array([[True]]), taxonomy=TREE), ValueError, r"shape \(1, 1\).* named by 5 classes"),
        (lambda: label_sets(np.array([[0, 2]]), classes=["a", "b"]), ValueError, r"y\[0, 1\] is 2 \(sample 0\)"),
        (lambda: label_sets(np.array([[0.0, 1.0]]), classes=["a", "b"]), TypeError, "Threshold scores first"),
        (lambda: label_sets(sparse.csr_matrix([[0.0, 1.0]]), classes=["a", "b"]), TypeError, "floats"),
        (lambda: label_sets(sparse.csr_matrix([[0, 0], [0, 5]]), classes=["a", "b"]), ValueError, r"y\[1, 1\] is 5"),
        (lambda: label_sets(np.array([["a", "b"]]), classes=["a", "b"]), TypeError, "dtype <U1"),
        (lambda: label_sets(np.eye(2, dtype=int), classes=["a", "a"]), ValueError, "'a' is named twice"),
        (lambda: label_sets(np.eye(2, dtype=int), classes=["a", "q"], taxonomy=TREE), ValueError, "column 1"),
        (lambda: label_sets(np.eye(2, dtype=int), classes="ab"), TypeError, "not a single str"),
    ],
)
def test_bad_indicator_matrices(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_indicator_matrix_is_the_inverse():
    y = [{"a/x", "b/z"}, set(), {"a"}]
    Y = indicator_matrix(y, taxonomy=TREE)
    assert Y.dtype == bool and Y.shape == (3, TREE.n_nodes - 1)
    assert label_sets(Y, taxonomy=TREE, allow_empty=True) == tuple(frozenset(s) for s in y)
    classes = ["b/z", "a", "a/x"]
    Yc = indicator_matrix(y, classes=classes)
    np.testing.assert_array_equal(Yc, [[1, 0, 1], [0, 0, 0], [0, 1, 0]])
    assert label_sets(Yc, classes=classes, allow_empty=True) == tuple(frozenset(s) for s in y)
    with pytest.raises(ValueError, match=r"Label 'a/y' \(sample 1\) is not one of the 3 classes"):
        indicator_matrix([{"a"}, {"a/y"}], classes=classes)
    with pytest.raises(ValueError, match="needs its columns"):
        indicator_matrix(y)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.frozensets(st.sampled_from(TREE.nodes[1:]), max_size=4), max_size=8))
def test_indicator_round_trip_on_random_label_sets(y):
    Y = indicator_matrix(y, taxonomy=TREE)
    assert label_sets(Y, taxonomy=TREE, allow_empty=True) == tuple(y)
    assert label_sets(sparse.csr_matrix(Y), taxonomy=TREE, allow_empty=True) == tuple(y)
    np.testing.assert_array_equal(
        TREE.closure_multi_hot(y), indicator_matrix([TREE.closure(s) for s in y], taxonomy=TREE)
    )


# ------------------------------------------------------------ the decisions
def test_decision_an_empty_set_is_refused_unless_allowed():
    for y in [[{"a"}, set()], [[["a"]], [[""]]], np.array([[True], [False]])]:
        with pytest.raises(ValueError, match="Sample 1 has no label"):
            label_sets(y, classes=["a"] if np.ndim(y) == 2 else None)
    assert label_sets([{"a"}, set()], allow_empty=True) == (fs("a"), fs())


def test_decision_an_unknown_label_is_refused_naming_it_and_its_sample():
    with pytest.raises(ValueError, match=r"Unknown label 'a/q' \(sample 1\): it is not a node of this taxonomy"):
        label_sets([{"a/x"}, {"b/z", "a/q"}], taxonomy=TREE)
    with pytest.raises(ValueError, match=r"Unknown label '/m/q' \(sample 0\)"):
        label_sets([{"/m/q"}], taxonomy=DAG)
    with pytest.raises(ValueError, match="'x' .* is ambiguous: give the full path"):
        label_sets([{"x"}], taxonomy=Taxonomy.from_paths(["a/x", "b/x"]))


def test_decision_a_label_naming_a_node_twice_is_refused():
    with pytest.raises(ValueError, match="Sample 0 names the node 'a/x' twice"):
        label_sets([[["a", "x"], ["a", "x"]]])  # a repeated path in the 3-D form
    with pytest.raises(ValueError, match="Sample 0 names the node 'a/x' twice"):
        label_sets([{"x", "a/x"}], taxonomy=TREE)  # a leaf name beside its path
    with pytest.raises(ValueError, match="Sample 0 names the node 'café' twice"):
        label_sets([{"caf\u00e9", "cafe\u0301"}])  # two spellings NFC merges


def test_decision_a_label_beside_its_ancestor_is_kept():
    assert label_sets([{"a", "a/x"}], taxonomy=TREE) == (fs("a", "a/x"),)
    assert TREE.closure({"a", "a/x"}) == TREE.closure({"a/x"})
    np.testing.assert_array_equal(TREE.closure_multi_hot([{"a", "a/x"}]), TREE.closure_multi_hot([{"a/x"}]))
    # Inner nodes are labels too, in one sample or across samples (label_paths would refuse "a" beside "a/x").
    assert label_sets(["a", "a/x"], taxonomy=TREE) == (fs("a"), fs("a/x"))


def test_decision_lists_beside_sets_are_refused():
    with pytest.raises(TypeError, match=r"Sample 1 is a list \(\['b', 'z'\]\) in a sequence of label sets"):
        label_sets([{"a/x"}, ["b", "z"]])
    with pytest.raises(TypeError, match="Sample 0 is a tuple"):
        label_sets([("a", "x"), {"b"}])


@pytest.mark.parametrize(
    ("y", "error", "match"),
    [
        ([{"a/x", None}], ValueError, r"Label None \(sample 0\) is missing"),
        ([{"a"}, {"b", 1}], TypeError, "mixes"),
        ([{b"a"}], TypeError, "bytes"),
        ([{True}], TypeError, "bool"),
        ([{"a//x"}], ValueError, "empty name"),
        ([{"a "}], ValueError, "whitespace"),
        ([{float("nan")}], ValueError, "not a finite number"),
        ([{("a", "x")}], TypeError, "is a tuple"),
        ("a/x", TypeError, "not a single str"),
    ],
)
def test_every_label_obeys_the_single_label_rules(y, error, match):
    with pytest.raises(error, match=match):
        label_sets(y)


def test_identities_and_separators():
    assert label_sets([{"/m/d", "/m/b"}], taxonomy=DAG) == (fs("/m/b", "/m/d"),)
    assert label_sets(["/m/d"], taxonomy=DAG) == (fs("/m/d"),)  # single-label identities
    assert label_sets([{"/m/x"}], sep=None) == (fs("/m/x"),)  # no taxonomy: sep=None keeps "/" inside
    with pytest.raises(ValueError, match="has an empty name"):
        label_sets([{"/m/x"}])  # read as a path, it starts with an empty name
    assert label_sets([{"a|x"}], taxonomy=Taxonomy.from_paths(["a|x"], sep="|")) == (fs("a|x"),)
    with pytest.raises(ValueError, match=r"sep='\|' differs from the taxonomy's sep=None"):
        label_sets([{"/m/d"}], taxonomy=DAG, sep="|")
    with pytest.raises(ValueError, match="A 3-D y holds paths"):
        label_sets([[["/m/d"]]], taxonomy=DAG)
    with pytest.raises(ValueError, match="must be 1-D"):
        label_sets([["/m/a", "/m/b"]], taxonomy=DAG)
    with pytest.raises(ValueError, match="sep must be a non-empty string or None"):
        label_sets([{"a"}], sep="")


def test_caller_data_unchanged():
    y = np.array([{"cafe\u0301/x"}, {"a/y", "b/z"}], dtype=object)
    Y = np.array([[1, 0, 1, 0, 1]])
    y_before, Y_before = copy.deepcopy(y), Y.copy()
    label_sets(y)
    Taxonomy.from_y(y)
    label_sets(Y, classes=TREE.nodes[1:])
    indicator_matrix(y, classes=["café/x", "a/y", "b/z"])
    assert list(y) == list(y_before)
    np.testing.assert_array_equal(Y, Y_before)


# ------------------------------------------------------------ from_label_sets
def test_from_label_sets_and_from_y():
    y = [{"Brass/Horn", "Keys"}, {"Brass"}, {"Keys/Piano"}]
    tax = Taxonomy.from_label_sets(y)
    assert tax == Taxonomy.from_y(y)
    assert tax.leaves == ("Brass/Horn", "Keys/Piano")
    assert Taxonomy.from_label_sets([{"a"}, {"a/x"}]).leaves == ("a/x",)  # an inner label is a node, not a leaf
    flat = Taxonomy.from_label_sets([{"/m/a", "/m/b"}, {"/m/c"}], sep=None)
    assert flat.sep is None and flat.levels[1] == ("/m/a", "/m/b", "/m/c")
    Y = np.array([[1, 0], [1, 1]])
    assert Taxonomy.from_label_sets(Y, classes=["a/x", "b"]) == Taxonomy.from_paths(["a/x", "b"])
    with pytest.raises(ValueError, match="Sample 1 has no label"):
        Taxonomy.from_label_sets([{"a"}, set()])


def test_single_label_data_as_sets_gives_todays_taxonomy():
    paths = ["Brass/Horn/open", "Brass/Trumpet/open", "Keys/Piano", "Brass/Horn/open"]
    assert Taxonomy.from_y([{p} for p in paths]) == Taxonomy.from_y(paths)
    levels = [(p.split("/") + [""])[:3] for p in paths]  # padded: one row of levels per sample
    assert Taxonomy.from_label_sets([[row] for row in levels]) == Taxonomy.from_y(levels)
    assert Taxonomy.from_y([{1}, {2}]) == Taxonomy.from_y([1, 2])
