"""Per-level F1 and LSA accuracy of label sets, against references written with plain loops.

The references take closures, depths and lowest seen ancestors from a parent map (``str.split``
prefixes for paths, a dict for the DAG), never from Taxonomy; scikit-learn's multi-label F1 and
hiclass's hierarchical F1 are the peers. With one label per clip on a tree, the scores must be
the single-label ones.
"""

import math

import numpy as np
import pytest
from sklearn.metrics import f1_score
from sklearn.preprocessing import MultiLabelBinarizer

from sklearn_hier.metrics import level_f1_score, lsa_accuracy, multilabel_level_f1_score, multilabel_lsa_accuracy
from sklearn_hier.taxonomy import Taxonomy

# A ragged tree with unique names (hiclass compares names), labels on leaves and inner nodes.
TREE_PATHS = ["A/p/1", "A/p/2", "A/q", "B/r/3", "B/r/4", "B/s", "C", "D/t/5"]
TREE = Taxonomy.from_paths(TREE_PATHS)
# Barking is a dog sound and a wild-animal sound; "Pet" hangs from two parents a level apart.
DAG_PARENTS = {
    "Animal": [],
    "Domestic": ["Animal"],
    "Wild": ["Animal"],
    "Dog": ["Domestic"],
    "Cat": ["Domestic"],
    "Bark": ["Dog", "Wild"],
    "Growl": ["Dog", "Wild"],
    "Howl": ["Wild"],
    "Meow": ["Cat"],
    "Purr": ["Cat"],
    "Pet": ["Domestic", "Animal"],
    "Music": [],
    "Drum": ["Music"],
}
DAG = Taxonomy.from_parents(DAG_PARENTS)


# ------------------------------------------------------------------ references
def parents_of(node):
    """A node's parents: the path's prefix on the tree, the dict on the DAG; [] at the top level."""
    if node in DAG_PARENTS:
        return DAG_PARENTS[node]
    return [node.rpartition("/")[0]] if "/" in node else []


def ref_ancestors(node):
    found, stack = set(), list(parents_of(node))
    while stack:
        parent = stack.pop()
        if parent not in found:
            found.add(parent)
            stack.extend(parents_of(parent))
    return found


def ref_closure(labels):
    return set().union(*({label} | ref_ancestors(label) for label in labels)) if labels else set()


def ref_depth(node):
    return 1 + max((ref_depth(p) for p in parents_of(node)), default=0)


def ref_level_slices(sets, level):
    """Each clip's classes at one level: the nodes of its closure at that depth."""
    return [{n for n in ref_closure(s) if ref_depth(n) == level} for s in sets]


def ref_level_f1(true_sets, pred_sets, level, average):
    """Per class of the level, TP / FP / FN counted clip by clip over the clips with a true class there."""
    tp, fp, fn = {}, {}, {}
    for true, pred in zip(true_sets, pred_sets, strict=True):
        t = {n for n in ref_closure(true) if ref_depth(n) == level}
        p = {n for n in ref_closure(pred) if ref_depth(n) == level}
        if not t:
            continue
        for node in t | p:
            tp[node] = tp.get(node, 0) + (node in t and node in p)
            fp[node] = fp.get(node, 0) + (node in p and node not in t)
            fn[node] = fn.get(node, 0) + (node in t and node not in p)
    if not tp:
        return math.nan
    if average == "micro":
        a, b, c = sum(tp.values()), sum(fp.values()), sum(fn.values())
        return 2 * a / (2 * a + b + c)
    f1 = {node: 2 * tp[node] / (2 * tp[node] + fp[node] + fn[node]) for node in tp}
    if average == "macro":
        return sum(f1.values()) / len(f1)
    support = {node: tp[node] + fn[node] for node in tp}
    return sum(f1[n] * support[n] for n in f1) / sum(support.values())


def ref_lsa_accuracy(true_sets, pred_sets, seen_nodes, seen_leaves):
    """One question per (clip, unseen label): does the predicted closure hold every informative LSA?"""
    free = set.intersection(*({leaf} | ref_ancestors(leaf) for leaf in seen_leaves))
    answers = []
    for true, pred in zip(true_sets, pred_sets, strict=True):
        closure = ref_closure(pred)
        for label in true:
            if label in seen_nodes:
                continue
            seen_above = {a for a in ref_ancestors(label) if a in seen_nodes}
            lowest = {a for a in seen_above if not any(a in ref_ancestors(b) for b in seen_above)}
            targets = lowest - free
            if targets:
                answers.append(targets <= closure)
    return sum(answers) / len(answers) if answers else math.nan


def random_sets(nodes, n, rng, *, max_labels=3, empty=True):
    sizes = rng.integers(0 if empty else 1, max_labels + 1, n)
    return [set(rng.choice(nodes, size=k, replace=False).tolist()) for k in sizes]


TREE_NODES = list(TREE.nodes[1:])
DAG_NODES = list(DAG.nodes[1:])


# ------------------------------------------------------------------ per-level F1
@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("average", ["macro", "micro", "weighted"])
@pytest.mark.parametrize(("taxonomy", "nodes"), [(TREE, TREE_NODES), (DAG, DAG_NODES)], ids=["tree", "dag"])
def test_level_f1_equals_the_reference_and_sklearn(taxonomy, nodes, average, seed):
    rng = np.random.default_rng(seed)
    true = random_sets(nodes, 25, rng, empty=False)
    pred = random_sets(nodes, 25, rng)
    for level in range(1, taxonomy.depth + 1):
        got = multilabel_level_f1_score(true, pred, taxonomy, level=level, average=average)
        assert got == pytest.approx(ref_level_f1(true, pred, level, average), rel=1e-12, nan_ok=True)
        # sklearn's multi-label F1 on the level's indicator matrix, its classes those some kept clip has
        slices = [ref_level_slices(sets, level) for sets in (true, pred)]
        kept = [i for i, t in enumerate(slices[0]) if t]
        if kept:
            binarizer = MultiLabelBinarizer().fit([s for sets in slices for s in (sets[i] for i in kept)])
            y_true, y_pred = (binarizer.transform([sets[i] for i in kept]) for sets in slices)
            assert got == pytest.approx(f1_score(y_true, y_pred, average=average, zero_division=0.0), rel=1e-12)


def test_level_f1_micro_is_hiclass_hierarchical_f1_on_one_level():
    """hiclass has no per-level score, but its micro hF on paths one level long is the micro F1 of that level."""
    metrics = pytest.importorskip("hiclass.metrics")
    rng = np.random.default_rng(0)
    for _ in range(10):
        true = random_sets(TREE_NODES, 30, rng, empty=False)
        pred = random_sets(TREE_NODES, 30, rng, empty=False)
        for level in (1, 2, 3):
            slices = [[sorted(s) for s in ref_level_slices(sets, level)] for sets in (true, pred)]
            kept = [i for i, t in enumerate(slices[0]) if t]
            if not any(slices[1][i] for i in kept):
                continue  # hiclass divides by zero with nothing predicted
            width = max(len(sets[i]) for sets in slices for i in kept)

            def rows(sets, width=width, kept=kept):
                padded = [[[node] for node in sets[i]] + [[""]] * (width - len(sets[i])) for i in kept]
                return np.array(padded, dtype=object)

            expected = metrics.f1(rows(slices[0]), rows(slices[1]), average="micro")
            got = multilabel_level_f1_score(true, pred, TREE, level=level, average="micro")
            assert got == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("average", ["macro", "micro", "weighted"])
def test_one_label_sets_on_a_tree_are_the_single_label_level_f1(seed, average):
    rng = np.random.default_rng(seed)
    leaves = np.array(TREE.leaves, dtype=object)
    true = leaves[rng.integers(0, len(leaves), 40)]
    # Any predicted leaf, or node at or below the level: level_f1_score then sees a class, as here.
    for level in (1, 2, 3):
        reaching = np.array([n for n in TREE_NODES if n.count("/") + 1 >= level], dtype=object)
        pred = reaching[rng.integers(0, len(reaching), 40)]
        expected = level_f1_score(true, pred, level=level, average=average)
        got = multilabel_level_f1_score([{t} for t in true], [{p} for p in pred], TREE, level=level, average=average)
        assert got == pytest.approx(expected, rel=1e-12)


def test_a_prediction_above_the_level_is_a_miss_here_and_a_wrong_class_in_the_single_label_score():
    true, pred = ["A/p/1", "B/r/3"], ["A/p/1", "B"]
    # level 3: A/p/1 right; B/r/3 missed. Single-label: classes A/p/1 (1), B/r/3 (0) and "stops above" (0).
    assert level_f1_score(true, pred, level=3) == pytest.approx(1 / 3)
    assert multilabel_level_f1_score([{t} for t in true], [{p} for p in pred], TREE, level=3) == pytest.approx(1 / 2)


def test_level_f1_edge_cases_and_indicators():
    # no clip reaches the level: NaN; an empty prediction is all misses
    assert math.isnan(multilabel_level_f1_score([{"C"}], [{"C"}], TREE, level=2))
    assert multilabel_level_f1_score([{"A/q"}], [set()], TREE, level=2) == 0.0
    # a left-out clip's predictions are no classes: B/s, predicted only for C's clip, is not averaged in
    assert multilabel_level_f1_score([{"A/q"}, {"C"}], [{"A/q"}, {"B/s"}], TREE, level=2) == 1.0
    # an indicator matrix with labels naming its columns reads as the sets it marks
    labels = ["A/p/1", "A/q", "B"]
    indicator = np.array([[1, 1, 0], [0, 0, 1]])
    true = [{"A/p/2", "B/s"}, {"B/r/4"}]
    as_sets = [{"A/p/1", "A/q"}, {"B"}]
    for level in (1, 2):
        expected = multilabel_level_f1_score(true, as_sets, TREE, level=level)
        assert multilabel_level_f1_score(true, indicator, TREE, level=level, labels=labels) == expected
    with pytest.raises(ValueError, match="level must be a depth from 1 to 3"):
        multilabel_level_f1_score([{"C"}], [{"C"}], TREE, level=4)
    with pytest.raises(ValueError, match=r"Unknown label 'Z' in y_pred\[0\]"):
        multilabel_level_f1_score([{"C"}], [{"Z"}], TREE, level=1)


# ------------------------------------------------------------------ LSA accuracy
def seen_part(taxonomy, nodes, rng):
    """A training taxonomy: the closure of a random half of the nodes."""
    chosen = rng.choice(nodes, size=len(nodes) // 2, replace=False).tolist()
    return taxonomy.restrict([set(chosen)])


@pytest.mark.parametrize("seed", range(10))
@pytest.mark.parametrize(("taxonomy", "nodes"), [(TREE, TREE_NODES), (DAG, DAG_NODES)], ids=["tree", "dag"])
def test_lsa_accuracy_equals_the_reference(taxonomy, nodes, seed):
    rng = np.random.default_rng(seed)
    seen = seen_part(taxonomy, nodes, rng)
    seen_nodes = list(seen.nodes[1:])
    true = random_sets(nodes, 30, rng, empty=False)
    pred = random_sets(seen_nodes, 30, rng)
    expected = ref_lsa_accuracy(true, pred, set(seen_nodes), list(seen.leaves))
    got = multilabel_lsa_accuracy(true, pred, seen, taxonomy=taxonomy)
    assert got == pytest.approx(expected, rel=1e-12, nan_ok=True)
    if taxonomy is TREE:  # paths name their ancestors: the full tree is not needed
        assert multilabel_lsa_accuracy(true, pred, seen) == got


@pytest.mark.parametrize("seed", range(5))
def test_one_label_sets_on_a_tree_are_the_single_label_lsa_accuracy(seed):
    # Every seen leaf at depth 3: the two rules for leaving an LSA out agree.
    rng = np.random.default_rng(seed)
    full = Taxonomy.from_paths([f"{f}/{i}/{t}" for f in "abc" for i in "xyz" for t in "uv"])
    seen = full.restrict(rng.choice(full.leaves, size=9, replace=False).tolist())
    true = np.array(full.leaves, dtype=object)[rng.integers(0, full.n_leaves, 50)]
    pred_leaf = np.array(seen.leaves, dtype=object)[rng.integers(0, seen.n_leaves, 50)]
    # single-label blind accuracy: the predicted leaf walked up to the depth of the LSA
    lsa_depth = [seen.node_depth(seen.lowest_seen_ancestor(t)) for t in true]
    walked = np.array(["/".join(p.split("/")[:d]) or None for p, d in zip(pred_leaf, lsa_depth, strict=True)])
    unseen = ~np.isin(true, seen.leaves)
    expected = lsa_accuracy(true[unseen], walked[unseen], seen)
    got = multilabel_lsa_accuracy([{t} for t in true], [{p} for p in pred_leaf], seen)
    assert got == pytest.approx(expected, rel=1e-12, nan_ok=True)


def test_lsa_accuracy_on_the_dag_asks_for_every_lsa_and_leaves_out_what_any_leaf_names():
    seen = DAG.restrict([{"Dog", "Wild", "Meow", "Howl"}])
    # Bark's LSAs are Dog and Wild; Purr's is Cat; Pet's is Domestic.
    true = [{"Bark"}, {"Bark"}, {"Purr", "Howl"}, {"Pet"}]
    pred = [{"Dog"}, {"Dog", "Howl"}, {"Meow"}, {"Howl"}]
    assert multilabel_lsa_accuracy(true, pred, seen, taxonomy=DAG) == pytest.approx(2 / 4)
    # With Dog the one seen leaf, any seen prediction names Domestic and Animal: LSAs there ask nothing.
    only_dogs = DAG.restrict([{"Dog"}])
    assert math.isnan(multilabel_lsa_accuracy([{"Howl"}, {"Cat"}], [set(), set()], only_dogs, taxonomy=DAG))
    # no unseen label: nothing to ask
    assert math.isnan(multilabel_lsa_accuracy([{"Dog"}], [set()], seen, taxonomy=DAG))


def test_lsa_accuracy_bad_inputs_are_refused_by_name():
    seen = DAG.restrict([{"Dog", "Wild"}])
    with pytest.raises(ValueError, match="Pass taxonomy=, the full taxonomy"):
        multilabel_lsa_accuracy([{"Bark"}], [{"Dog"}], seen)
    with pytest.raises(ValueError, match="Unknown label 'Meow'"):
        multilabel_lsa_accuracy([{"Bark"}], [{"Meow"}], seen, taxonomy=DAG)
    with pytest.raises(ValueError, match="y_true has 2 clips but y_pred has 1"):
        multilabel_lsa_accuracy([{"Bark"}, {"Dog"}], [{"Dog"}], seen, taxonomy=DAG)
