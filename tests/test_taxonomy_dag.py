"""Taxonomies keyed by identities that may be DAGs (issue 24): ontology, closures, restriction, LSAs, JSON.

Trees keyed by paths are tested in test_taxonomy.py; the reductions at the end check that the
operations written for DAGs give today's answers on every tree.
"""

import json
import pickle
from collections import deque

import numpy as np
import pytest
from _ontology import BARK, CANIDAE, DOG, HOWL, ONTOLOGY
from _trees import ORCHIDEA_MINI as MINI
from hypothesis import given, settings
from hypothesis import strategies as st

from sklearn_hier.taxonomy import Taxonomy, label_sets


@pytest.fixture
def audioset():
    return Taxonomy.from_ontology(ONTOLOGY)


def brute_force_ancestors(taxonomy, node):
    """Every node reachable upwards from ``node`` by breadth-first search, the node and the root excluded."""
    seen, queue = set(), deque(taxonomy.parents(node))
    while queue:
        above = queue.popleft()
        if above not in seen and above != "":
            seen.add(above)
            queue.extend(taxonomy.parents(above))
    return seen


# ---------------------------------------------------------------- small DAGs
def test_a_node_with_two_parents():
    dag = Taxonomy.from_parents({"Bark": ["Dog", "Wild"], "Dog": ["Domestic"]})
    assert not dag.is_tree and dag.sep is None
    assert dag.nodes == ("", "Domestic", "Wild", "Dog", "Bark")
    assert dag.parents("Bark") == ("Wild", "Dog")  # node order: by depth, then key
    assert dag.parents("Wild") == ("",)
    assert dag.children("Wild") == ("Bark",) and dag.children("Dog") == ("Bark",)
    assert dag.ancestors("Bark") == ("Domestic", "Wild", "Dog")
    assert dag.node_depth("Bark") == 3  # the longest path: Domestic -> Dog -> Bark
    assert dag.levels == (("",), ("Domestic", "Wild"), ("Dog",), ("Bark",))
    assert dag.leaves == ("Bark",) and dag.depth == 3
    assert dag.closure({"Bark"}) == {"Domestic", "Wild", "Dog", "Bark"}


def test_a_diamond():
    diamond = Taxonomy.from_parents({"b": ["a"], "c": ["a"], "d": ["b", "c"]})
    assert diamond.ancestors("d") == ("a", "b", "c")
    assert diamond.closure({"b", "c"}) == {"a", "b", "c"}
    np.testing.assert_array_equal(diamond.closure_multi_hot([{"d"}, {"b"}]), [[1, 1, 1, 1], [1, 1, 0, 0]])
    assert diamond.lowest_seen_ancestors("d", {"b", "c"}) == ("b", "c")
    assert diamond.lowest_seen_ancestors("d", {"b"}) == ("b",)
    assert diamond.lowest_seen_ancestors("d", {"a"}) == ("a",)
    assert diamond.lowest_seen_ancestors("d", set()) == ("",)
    assert diamond.lowest_seen_ancestors("d", {"d"}) == ("d",)
    assert diamond.restrict([{"c"}]).nodes == ("", "a", "c")
    kept = diamond.restrict([{"d"}])
    assert kept == diamond and kept.parents("d") == ("b", "c")  # every parent of a kept node is kept


@pytest.mark.parametrize(
    ("parents", "cycle"),
    [
        ({"a": ["a"]}, "'a' -> 'a'"),
        ({"a": ["b"], "b": ["a"]}, "'a' -> 'b' -> 'a'"),
        ({"x": ["a"], "a": ["c"], "b": ["a"], "c": ["b"]}, "'a' -> 'b' -> 'c' -> 'a'"),
    ],
)
def test_a_cycle_is_refused_and_named(parents, cycle):
    with pytest.raises(ValueError, match=f"would have a cycle: {cycle} \\(each a parent of the next\\)"):
        Taxonomy.from_parents(parents)


@pytest.mark.parametrize(
    ("parents", "error", "match"),
    [
        ({"a": "b"}, TypeError, "parents of 'a' must be a list"),
        ({"a": ["b", "b"]}, ValueError, "'a' lists the parent 'b' twice"),
        ({"a": [""]}, ValueError, r"'' \(the root\) appears as a parent of 'a'"),
        ({1: []}, TypeError, "Node keys must be str; got int 1"),
        ({"a ": []}, ValueError, "leading or trailing whitespace"),
        ([("a", "b")], TypeError, "parents must be a mapping"),
    ],
)
def test_from_parents_bad_input(parents, error, match):
    with pytest.raises(error, match=match):
        Taxonomy.from_parents(parents)


def test_path_operations_on_a_dag_say_they_need_a_tree():
    dag = Taxonomy.from_parents({"d": ["b", "c"]})
    for call in [
        lambda: dag.path("d"),
        lambda: dag.lca("d", "b"),
        lambda: dag.level_codes(["d"]),
        lambda: dag.leaf_level_codes(),
        lambda: dag.node_level_codes(["d"]),
        lambda: dag.ancestor_at(["d"], 1),
        lambda: dag.path_multi_hot(["d"]),
        lambda: dag.lca_depth_matrix(["d"], ["d"]),
        lambda: dag.tree_distance_matrix(["d"], ["d"]),
    ]:
        with pytest.raises(ValueError, match=r"needs a tree, but this taxonomy is a DAG: node 'd' has 2 parents"):
            call()
    with pytest.raises(ValueError, match=r"'d' has 2 parents \('b', 'c'\); use parents\('d'\)"):
        dag.parent("d")
    assert dag.parent("b") == ""  # one parent: parent() still answers
    with pytest.raises(ValueError, match="keys are identities; use to_json"):
        dag.to_dict()
    with pytest.raises(ValueError, match=r"full_taxonomy.lowest_seen_ancestors"):
        dag.lowest_seen_ancestor("d")


def test_identity_keys_that_form_a_tree_support_path_operations():
    tree = Taxonomy.from_parents({"/m/x": ["/m/a"], "/m/y": ["/m/a"], "/m/z": []})
    assert tree.is_tree and tree.sep is None
    assert tree.lca("/m/x", "/m/y") == "/m/a" and tree.lca("/m/x", "/m/z") == ""
    assert tree.path("/m/x") == ("/m/a", "/m/x")  # names default to the keys
    np.testing.assert_array_equal(tree.encode(["/m/z", "/m/x"]), [2, 0])
    np.testing.assert_array_equal(tree.level_codes(["/m/x", "/m/z"]), [[0, 0], [1, -1]])
    np.testing.assert_array_equal(tree.node_level_codes(["/m/a", ""]), [[0, -1], [-1, -1]])
    np.testing.assert_array_equal(tree.path_multi_hot(["/m/x"]), tree.closure_multi_hot(["/m/x"]))
    with pytest.raises(ValueError, match="internal node, not a leaf"):
        tree.encode(["/m/a"])
    with pytest.raises(ValueError, match="Unknown label 'x'"):
        tree.encode(["x"])  # identities are never shortened to a last name


# ------------------------------------------------------------------ ontology
def test_audioset_ontology(audioset, tmp_path):
    assert audioset.n_nodes == len(ONTOLOGY) + 1 and not audioset.is_tree
    assert audioset.levels[1] == ("/m/04rlf", "/m/0dgw9r", "/m/0jbk")  # Music, Human sounds, Animal
    assert audioset.parents(HOWL) == (CANIDAE, DOG)
    assert audioset.node_depth(HOWL) == 4
    assert set(audioset.ancestors(HOWL)) == {"/m/0jbk", "/m/068hy", "/m/01280g", DOG, CANIDAE}
    assert audioset.name_of(HOWL) == "Howl" and audioset.name_of("") == ""
    assert audioset.restrictions_of("/m/0dgw9r") == ("abstract",)
    assert audioset.restrictions_of("/t/dd00013") == ("blacklist",)
    assert audioset.restrictions_of(BARK) == ()  # no "restrictions" field: none
    assert "/m/0bt9lr" in audioset and "Dog" not in audioset  # keys are ids, not names
    path = tmp_path / "ontology.json"
    path.write_text(json.dumps(ONTOLOGY), encoding="utf-8")
    assert Taxonomy.from_ontology(path) == audioset == Taxonomy.from_ontology(str(path))
    assert repr(audioset) == "Taxonomy(n_leaves=5, depth=4, nodes_per_level=3/4/5/2, sep=None, is_tree=False)"
    assert audioset.render().splitlines()[:3] == ["root", "├── Music", "│   └── Musical instrument"]
    assert audioset.render().count("Howl") == 2  # unfolded: once under each parent


def _entries(**changes):
    entries = [dict(entry) for entry in ONTOLOGY]
    for index, entry in changes.items():
        entries[int(index[1:])] = entry
    return entries


@pytest.mark.parametrize(
    ("entries", "match"),
    [
        (_entries(e6={**ONTOLOGY[6], "child_ids": [BARK, "/m/0jbk"]}), "would have a cycle: '/m/0jbk' -> "),
        (
            _entries(e7={**ONTOLOGY[7], "child_ids": ["/m/nope"]}),
            r"entry 7 \(id '/m/05tny_', 'Bark'\) lists an unknown",
        ),
        ([*ONTOLOGY, {"id": DOG, "name": "Dog again", "child_ids": []}], "entries 6 and 14 share the id '/m/0bt9lr'"),
        (_entries(e2={"id": "/m/09x0r", "child_ids": []}), r"entry 2 \(id '/m/09x0r'\) has no 'name'"),
        (_entries(e2={"name": "Speech", "child_ids": []}), "entry 2 has no 'id'"),
        (_entries(e2={"id": "/m/09x0r", "name": "Speech"}), r"entry 2 \(id '/m/09x0r'\) has 'child_ids' None"),
        (_entries(e2={**ONTOLOGY[2], "child_ids": "/m/x"}), "has 'child_ids' '/m/x'; expected a list"),
        (_entries(e2={**ONTOLOGY[2], "restrictions": "abstract"}), "has 'restrictions' 'abstract'; expected a list"),
        (_entries(e6={**ONTOLOGY[6], "child_ids": [BARK, BARK]}), "entry 6 .* lists the child id '/m/05tny_' twice"),
        (_entries(e3=["/t/dd00013"]), "entry 3 is a list, not an object"),
        ({"ontology": ONTOLOGY}, "path of an ontology JSON file or its parsed list; got dict"),
    ],
)
def test_malformed_ontologies_are_refused_naming_the_entry(entries, match):
    error = TypeError if isinstance(entries, dict) else ValueError
    with pytest.raises(error, match=match):
        Taxonomy.from_ontology(entries)


def test_ontology_file_must_hold_a_list(tmp_path):
    path = tmp_path / "ontology.json"
    path.write_text(json.dumps({"ontology": ONTOLOGY}), encoding="utf-8")
    with pytest.raises(ValueError, match="JSON list of objects"):
        Taxonomy.from_ontology(path)


def test_ontology_labels_closures_and_restrict(audioset):
    y = [{HOWL}, {BARK, "/m/0342h"}, {"/m/09x0r"}]
    hot = audioset.closure_multi_hot(y)
    assert hot.shape == (3, audioset.n_nodes - 1)
    for row, labels in zip(hot, y, strict=True):
        on = {audioset.nodes[1 + j] for j in np.flatnonzero(row)}
        assert on == audioset.closure(labels)
    seen = audioset.restrict([{BARK}])  # trained on barks only
    assert set(seen.nodes[1:]) == {"/m/0jbk", "/m/068hy", DOG, BARK}
    assert seen.name_of(DOG) == "Dog" and seen.restrictions_of("/m/0jbk") == ()
    # Howl was never heard: its lowest seen ancestor is Dog, through the one path that kept one.
    assert audioset.lowest_seen_ancestors(HOWL, seen) == (DOG,)
    both = audioset.restrict([{BARK}, {"/m/01280g"}])
    assert audioset.lowest_seen_ancestors(HOWL, both) == ("/m/01280g", DOG)
    assert audioset.lowest_seen_ancestors(HOWL, {BARK, "/m/01280g"}) == ("/m/01280g", DOG)
    assert audioset.lowest_seen_ancestors("/m/0342h", seen) == ("",)


def test_dag_json_pickle_equality_and_hash(audioset):
    data = json.loads(audioset.to_json())
    assert list(data) == ["ontology"]
    assert data["ontology"][0] == {"id": "/m/04rlf", "name": "Music", "child_ids": ["/m/04szw"], "restrictions": []}
    again = Taxonomy.from_json(audioset.to_json())
    assert again == audioset and hash(again) == hash(audioset)
    assert again.restrictions_of("/m/0dgw9r") == ("abstract",) and again.name_of(HOWL) == "Howl"
    assert pickle.loads(pickle.dumps(audioset)) == audioset
    renamed = [{**entry, "name": "Hound"} if entry["id"] == DOG else entry for entry in ONTOLOGY]
    assert Taxonomy.from_ontology(renamed) != audioset  # attributes are part of the identity
    unrestricted = [{**entry, "restrictions": []} for entry in ONTOLOGY]
    assert Taxonomy.from_ontology(unrestricted) != audioset
    with pytest.raises(AttributeError, match="immutable"):
        audioset.is_tree = True


def test_the_kinds_never_compare_equal():
    assert Taxonomy.from_parents({"x": ["a"]}) != Taxonomy.from_paths(["a/x"])


# -------------------------------------------------------------- random DAGs
@st.composite
def dags(draw):
    """Random DAGs keyed by AudioSet-like ids: node i draws its parents among nodes 0..i-1."""
    n = draw(st.integers(1, 12))
    keys = [f"/m/{i:02d}" for i in draw(st.permutations(range(n)))]
    parents = {}
    for i, key in enumerate(keys):
        parents[key] = draw(st.lists(st.sampled_from(keys[:i]), unique=True, max_size=3)) if i else []
    return parents


@settings(max_examples=60, deadline=None)
@given(dags(), st.data())
def test_properties_on_random_dags(parents, data):
    dag = Taxonomy.from_parents(parents)
    nodes = list(dag.nodes[1:])
    for node in nodes:
        closure = brute_force_ancestors(dag, node)
        assert set(dag.ancestors(node)) == closure
        assert list(dag.ancestors(node)) == [k for k in dag.nodes if k in closure]  # node order
        assert all(dag.node_depth(p) < dag.node_depth(node) for p in dag.parents(node) if p)
        assert set(dag.parents(node)) == set(parents[node]) or (not parents[node] and dag.parents(node) == ("",))
    assert dag.is_tree == all(len(p) <= 1 for p in parents.values())
    labels = data.draw(st.lists(st.frozensets(st.sampled_from(nodes), max_size=3), min_size=1, max_size=5))
    hot = dag.closure_multi_hot(labels)
    for row, label_set in zip(hot, labels, strict=True):
        expected = set(label_set).union(*(brute_force_ancestors(dag, k) for k in label_set))
        assert {nodes[j] for j in np.flatnonzero(row)} == expected == dag.closure(label_set)
    # restrict keeps the seen labels, their ancestors and every edge between them
    sub = dag.restrict(labels)
    kept = dag.closure(set().union(*labels))
    assert set(sub.nodes[1:]) == kept
    assert all(sub.parents(k) == dag.parents(k) for k in kept)
    # the lowest seen ancestors are seen, above the label, and none lies above another
    label = data.draw(st.sampled_from(nodes))
    lowest = dag.lowest_seen_ancestors(label, sub)
    if label in kept:
        assert lowest == (label,)
    elif lowest == ("",):
        assert not kept & brute_force_ancestors(dag, label)
    else:
        assert set(lowest) <= kept & brute_force_ancestors(dag, label)
        assert not any(a in brute_force_ancestors(dag, b) for a in lowest for b in lowest)
        for seen_above in kept & brute_force_ancestors(dag, label):  # each seen ancestor is at or above one
            assert any(seen_above == a or seen_above in brute_force_ancestors(dag, a) for a in lowest)
    assert Taxonomy.from_json(dag.to_json()) == dag
    assert pickle.loads(pickle.dumps(dag)) == dag


# ------------------------------------------------ reductions on single-label trees
def test_tree_json_and_repr_are_unchanged():
    tax = Taxonomy.from_paths(["a/x", "a/y", "b"])
    assert tax.to_json() == '{"sep": "/", "tree": {"a": {"x": {}, "y": {}}, "b": {}}}'
    assert repr(tax) == "Taxonomy(n_leaves=3, depth=2, nodes_per_level=2/2, sep='/')"
    assert tax.is_tree and tax.name_of("a/x") == "x" and tax.restrictions_of("a/x") == ()


names = st.sampled_from(list("abcd"))
random_paths = st.lists(st.lists(names, min_size=1, max_size=4).map("/".join), min_size=1, max_size=25)


@settings(max_examples=60, deadline=None)
@given(random_paths, st.data())
def test_dag_operations_reduce_to_the_tree_ones_on_trees(paths, data):
    tax = Taxonomy(paths)
    leaves = list(tax.leaves)
    assert tax.is_tree
    np.testing.assert_array_equal(tax.closure_multi_hot(leaves), tax.path_multi_hot(leaves))
    np.testing.assert_array_equal(tax.closure_multi_hot([{leaf} for leaf in leaves]), tax.path_multi_hot(leaves))
    for node in tax.nodes[1:]:
        assert tax.parents(node) == (tax.parent(node),)
        assert tax.closure({node}) == set(tax.ancestors(node)) | {node}
        assert set(tax.ancestors(node)) == brute_force_ancestors(tax, node)
    subset = data.draw(st.lists(st.sampled_from(leaves), min_size=1, unique=True))
    seen = tax.restrict(subset)
    assert tax.restrict([{leaf} for leaf in subset]) == seen  # label sets of leaves: the same sub-tree
    for leaf in leaves:
        assert tax.lowest_seen_ancestors(leaf, seen) == (seen.lowest_seen_ancestor(leaf),)
        assert tax.lowest_seen_ancestors(leaf, subset) == (seen.lowest_seen_ancestor(leaf),)
    y = data.draw(st.lists(st.sampled_from(leaves), min_size=1, max_size=10))
    assert Taxonomy.from_label_sets([{label} for label in y]) == Taxonomy.from_y(y)
    assert label_sets(y, taxonomy=tax) == tuple(frozenset({label}) for label in y)


def test_miniature_reductions():
    mini = Taxonomy.from_paths(MINI)
    assert mini.is_tree and mini.parents("Brass/Horn") == ("Brass",)
    assert mini.lowest_seen_ancestors("Brass/Horn/open/ordinario", {"Brass/Trumpet/open/ordinario"}) == ("Brass",)
    assert mini.closure({"Brass/Horn/open/ordinario", "Brass"}) == {
        "Brass",
        "Brass/Horn",
        "Brass/Horn/open",
        "Brass/Horn/open/ordinario",
    }
    with pytest.raises(ValueError, match="Unknown label 'Keys'"):
        mini.lowest_seen_ancestors("Keys", mini)
    with pytest.raises(TypeError, match="not a single str"):
        mini.closure("Brass")
    with pytest.raises(TypeError, match="label must be one label, not a set"):
        mini.lowest_seen_ancestors({"Brass"}, mini)
    flat = Taxonomy.from_y([1, 2, 3])
    assert flat.lowest_seen_ancestors(3, {1, 2}) == ("",) and flat.lowest_seen_ancestors(2, {2}) == ("2",)
