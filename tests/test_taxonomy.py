import pickle

import numpy as np
import pytest
import torch
from _trees import ORCHIDEA_MINI as MINI
from hypothesis import given, settings
from hypothesis import strategies as st

from sklearn_hier.taxonomy import Taxonomy, label_paths, lca_depth


@pytest.fixture
def mini():
    return Taxonomy.from_paths(MINI)


def test_miniature_structure(mini):
    assert mini.depth == 4
    assert [len(level) for level in mini.levels] == [1, 2, 3, 6, 8]
    assert mini.levels[1] == ("Brass", "Strings")
    assert mini.levels[2] == ("Brass/Horn", "Brass/Trumpet", "Strings/Violin")
    assert mini.n_leaves == 8 and mini.n_nodes == 20
    assert mini.informative_levels == (1, 2, 3, 4)
    assert mini.leaves[0] == "Brass/Horn/open/flatterzunge"
    # "open" under Horn and under Trumpet are different nodes.
    assert "Brass/Horn/open" in mini and "Brass/Trumpet/open" in mini
    assert mini.children("Brass/Horn") == ("Brass/Horn/open", "Brass/Horn/straight")
    assert mini.parent("Brass/Horn") == "Brass"
    assert mini.node_depth("Brass/Horn/open") == 3


def test_miniature_queries(mini):
    assert mini.path("Brass/Horn/open/ordinario") == ("Brass", "Horn", "open", "ordinario")
    assert mini.ancestors("Brass/Horn/open/ordinario") == ("Brass", "Brass/Horn", "Brass/Horn/open")
    assert mini.lca("Brass/Horn/open/ordinario", "Brass/Horn/straight/ordinario") == "Brass/Horn"
    assert mini.lca("Brass/Horn/open/ordinario", "Strings/Violin/open/ordinario") == ""
    assert mini.lca("Brass/Horn", "Brass/Horn/open/ordinario") == "Brass/Horn"


def test_miniature_codes(mini):
    y = ["Brass/Trumpet/harmon/ordinario", "Strings/Violin/sordina/ordinario", "Brass/Horn/open/ordinario"]
    # leaves sorted by path: Horn/open/flatterzunge=0, Horn/open/ordinario=1, Horn/straight=2,
    # Trumpet/harmon=3, Trumpet/open=4, Violin/open/ordinario=5, Violin/open/pizzicato=6, Violin/sordina=7
    np.testing.assert_array_equal(mini.encode(y), [3, 7, 1])
    # level 3 order: Horn/open, Horn/straight, Trumpet/harmon, Trumpet/open, Violin/open, Violin/sordina
    np.testing.assert_array_equal(mini.level_codes(y), [[0, 1, 2, 3], [1, 2, 5, 7], [0, 0, 0, 1]])
    np.testing.assert_array_equal(mini.decode([3, 7, 1]), y)
    hot = mini.path_multi_hot(y[:1])
    assert hot.shape == (1, 19) and hot.dtype == np.float32
    expected = {"Brass", "Brass/Trumpet", "Brass/Trumpet/harmon", "Brass/Trumpet/harmon/ordinario"}
    assert {mini.nodes[1 + i] for i in np.flatnonzero(hot[0])} == expected


def test_miniature_matrices(mini):
    a = ["Brass/Horn/open/ordinario", "Strings/Violin/open/pizzicato"]
    b = ["Brass/Horn/open/flatterzunge", "Brass/Trumpet/open/ordinario", "Strings/Violin/sordina/ordinario"]
    np.testing.assert_array_equal(mini.lca_depth_matrix(a, b), [[3, 1, 0], [0, 0, 2]])
    np.testing.assert_array_equal(mini.tree_distance_matrix(a, b), [[2, 6, 8], [8, 8, 4]])


def test_leaf_names_accepted_when_unique(mini):
    tax = Taxonomy.from_paths(["a/x", "a/y", "b/z"])
    np.testing.assert_array_equal(tax.encode(["z", "a/x"]), [2, 0])
    with pytest.raises(ValueError, match="'ordinario'"):
        mini.encode(["ordinario"])  # not unique: four leaves share this name


def test_restrict_and_lowest_seen_ancestor(mini):
    seen = mini.restrict(["Brass/Horn/open/ordinario", "Strings/Violin/open/pizzicato"])
    assert seen.leaves == ("Brass/Horn/open/ordinario", "Strings/Violin/open/pizzicato")
    assert "Brass/Horn" in seen and "Brass/Trumpet" not in seen
    assert seen.lowest_seen_ancestor("Brass/Horn/open/flatterzunge") == "Brass/Horn/open"
    assert seen.lowest_seen_ancestor("Brass/Trumpet/open/ordinario") == "Brass"
    assert seen.lowest_seen_ancestor("Keys/Piano/open/ordinario") == ""
    out = seen.lowest_seen_ancestor(["Strings/Violin/sordina/ordinario", "Brass/Horn/open/ordinario"])
    np.testing.assert_array_equal(out, ["Strings/Violin", "Brass/Horn/open/ordinario"])


def test_other_constructors_agree(mini):
    levels = [p.split("/") for p in MINI]
    assert Taxonomy.from_levels(levels) == mini
    assert Taxonomy.from_y(levels) == mini
    assert Taxonomy.from_dict(mini.to_dict()) == mini
    assert Taxonomy.from_json(mini.to_json()) == mini
    edges = [("Brass", "Horn"), ("Horn", "open"), ("open", "ordinario")]
    assert Taxonomy.from_edges(edges).leaves == ("Brass/Horn/open/ordinario",)


def test_ragged_levels():
    tax = Taxonomy.from_levels([["Keys", "Piano", ""], ["Brass", "Horn", "open"], ["Perc", "", ""]])
    assert tax.leaves == ("Brass/Horn/open", "Keys/Piano", "Perc")
    np.testing.assert_array_equal(tax.level_codes(["Perc", "Keys/Piano"]), [[2, -1, -1], [1, 1, -1]])
    np.testing.assert_array_equal(tax.lca_depth_matrix(["Perc"], ["Perc", "Keys/Piano"]), [[1, 0]])


def test_flat_labels_make_a_flat_tree():
    tax = Taxonomy.from_y(np.array([3, 1, 3]))
    assert tax.leaves == ("1", "3") and tax.depth == 1
    np.testing.assert_array_equal(tax.encode([3, 1]), [1, 0])


def test_immutable_equal_hashable_picklable(mini):
    with pytest.raises(AttributeError, match="immutable"):
        mini.depth = 3
    assert mini == Taxonomy.from_paths(reversed(MINI))
    assert hash(mini) == hash(Taxonomy.from_paths(reversed(MINI)))
    assert mini != Taxonomy.from_paths(MINI[:-1])
    assert pickle.loads(pickle.dumps(mini)) == mini
    assert repr(mini) == "Taxonomy(n_leaves=8, depth=4, nodes_per_level=2/3/6/8, sep='/')"
    assert mini.render().splitlines()[:3] == ["root", "├── Brass", "│   ├── Horn"]


def test_caller_input_untouched(mini):
    y = np.array(MINI[:3], dtype=object)
    before = y.copy()
    mini.encode(y)
    mini.level_codes(y)
    np.testing.assert_array_equal(y, before)


@pytest.mark.parametrize(
    ("build", "match"),
    [
        (lambda: Taxonomy.from_edges([("a", "x"), ("b", "x")]), "'x' has two different parents"),
        (lambda: Taxonomy.from_paths(["a//x"]), "'a//x' has an empty name"),
        (lambda: Taxonomy.from_dict({"a": {"x/y": None}}), "'x/y' contains the separator"),
        (lambda: Taxonomy.from_dict({"": None}), "non-empty"),
        (lambda: Taxonomy.from_levels([["a", "", "x"]]), "Row 0 of y has a gap"),
        (lambda: Taxonomy.from_levels(["a"]), "2-D"),
        (lambda: Taxonomy.from_paths(["a/x"]).encode(["a/zz"]), "Unknown label 'a/zz'"),
        (lambda: Taxonomy.from_paths(["a/x"]).encode(["a"]), "'a' .* internal node"),
        (lambda: Taxonomy.from_paths(["a/x"]).path("b"), "Unknown node 'b'"),
        (lambda: Taxonomy(["a"], sep=""), "sep must be"),
    ],
)
def test_bad_input_names_the_problem(build, match):
    with pytest.raises(ValueError, match=match):
        build()


def test_lca_depth_works_on_torch(mini):
    codes = mini.level_codes(MINI)
    expected = lca_depth(codes, codes)
    got = lca_depth(torch.as_tensor(codes), torch.as_tensor(codes))
    np.testing.assert_array_equal(got.numpy(), expected)


def test_label_paths_forms():
    np.testing.assert_array_equal(label_paths([["a", "x"], ["b", None]]), ["a/x", "b"])
    np.testing.assert_array_equal(label_paths(["a|x"], sep="|"), ["a|x"])
    with pytest.raises(ValueError, match="1-D .* or 2-D"):
        label_paths(np.zeros((2, 2, 2)))


# ---------------------------------------------------------------- properties
names = st.sampled_from(list("abcd"))
random_paths = st.lists(st.lists(names, min_size=1, max_size=4).map("/".join), min_size=1, max_size=25)


def _random_tree(paths):
    # Node paths (a path may be a prefix of another): the node constructor, not the leaf-label one.
    return Taxonomy(paths)


def _loop_lca_depth(tax, a, b):
    pa, pb = tax.path(a), tax.path(b)
    n = 0
    while n < min(len(pa), len(pb)) and pa[n] == pb[n]:
        n += 1
    return n


@settings(max_examples=60, deadline=None)
@given(random_paths, st.data())
def test_properties_on_random_trees(paths, data):
    tax = _random_tree(paths)
    leaves = list(tax.leaves)
    a = data.draw(st.sampled_from(leaves))
    b = data.draw(st.sampled_from(leaves))
    assert tax.lca(a, b) == tax.lca(b, a)
    assert tax.lca(a, a) == a
    assert tax.node_depth(tax.lca(a, b)) <= min(tax.node_depth(a), tax.node_depth(b))
    # codes agree with paths
    codes = tax.level_codes(leaves)
    for leaf, row in zip(leaves, codes, strict=True):
        names_ = tax.path(leaf)
        assert (row >= 0).sum() == len(names_)
        for d in range(len(names_)):
            assert tax.levels[d + 1][row[d]] == "/".join(names_[: d + 1])
    assert list(tax.decode(tax.encode(leaves))) == leaves
    # vectorised matrices equal a plain loop
    lca = tax.lca_depth_matrix(leaves, leaves)
    dist = tax.tree_distance_matrix(leaves, leaves)
    for i, x in enumerate(leaves):
        for j, z in enumerate(leaves):
            assert lca[i, j] == _loop_lca_depth(tax, x, z)
            assert dist[i, j] == tax.node_depth(x) + tax.node_depth(z) - 2 * lca[i, j]
    # restrict keeps every ancestor; JSON round trip is identity
    subset = data.draw(st.lists(st.sampled_from(leaves), min_size=1, unique=True))
    sub = tax.restrict(subset)
    assert set(sub.leaves) == set(subset)
    assert all(anc in sub for leaf in subset for anc in tax.ancestors(leaf))
    assert all(sub.lowest_seen_ancestor(leaf) == leaf for leaf in subset)
    assert Taxonomy.from_json(tax.to_json()) == tax
    assert pickle.loads(pickle.dumps(tax)) == tax


def test_ancestor_at_walks_up_and_keeps_shallow_labels(mini):
    y = ["Brass/Horn/open/ordinario", "Strings/Violin/sordina/ordinario"]
    np.testing.assert_array_equal(mini.ancestor_at(y, 1), ["Brass", "Strings"])
    np.testing.assert_array_equal(mini.ancestor_at(y, 3), ["Brass/Horn/open", "Strings/Violin/sordina"])
    ragged = Taxonomy.from_paths(["Keys/Piano", "Perc"])
    np.testing.assert_array_equal(ragged.ancestor_at(["Perc", "Keys/Piano"], 2), ["Perc", "Keys/Piano"])
    with pytest.raises(ValueError, match=r"level must be in \[1, 4\]"):
        mini.ancestor_at(y, 5)
