"""Training on label sets (multi-label y): targets, loss terms worked out by hand, mining, the estimator's contract."""

from __future__ import annotations

import itertools
import math
import warnings

import numpy as np
import pytest
import torch
from sklearn.metrics import f1_score
from sklearn.model_selection import cross_validate

from sklearn_hier import HierarchicalEmbedder
from sklearn_hier._batches import ShuffledBatches
from sklearn_hier._data import TensorData
from sklearn_hier._decision import THRESHOLD_GRID, tune_threshold
from sklearn_hier._validation import rarest_label_strata
from sklearn_hier.metrics import hierarchy_scorers, lwlrap_score, mean_average_precision, tagging_scorers
from sklearn_hier.model_selection import UnseenLabelKFold
from sklearn_hier.nn import (
    HierarchicalLoss,
    HierarchicalTripletMiner,
    LabelSetTable,
    LeafCrossEntropy,
    LossTerm,
    NodeBinaryCrossEntropy,
    PerLevelCrossEntropy,
    Targets,
    TargetTables,
)
from sklearn_hier.nn.heads import HeadOutputs, HierarchicalHeads, class_probabilities
from sklearn_hier.taxonomy import Taxonomy, lca_depth

TREE = Taxonomy.from_paths(["a/x", "a/y", "b"])  # nodes[1:]: a, b, a/x, a/y
LN3 = math.log(3.0)


def _table(sets, taxonomy=TREE):
    return LabelSetTable.encode(sets, taxonomy)


def _outputs(leaf, levels, nodes):
    return HeadOutputs(torch.tensor([leaf]), {d: torch.tensor([v]) for d, v in levels.items()}, torch.tensor([nodes]))


# ----------------------------------------------------------------- the tables
def test_label_set_table_orders_sets_and_classes_by_node_order_not_by_sample_order():
    table, codes = _table([{"b"}, {"a/y", "b"}, {"b"}])
    again, _ = _table([{"a/y", "b"}, {"b"}])
    assert table == again
    assert table.classes == ("b", "a/y")  # b lies at depth 1, a/y at depth 2
    assert [table.sets[c] for c in codes] == [{"b"}, {"a/y", "b"}, {"b"}]


def test_target_tables_on_label_sets_hold_closures_and_label_multi_hots():
    table, codes = _table([{"a/x", "b"}, {"a/y"}])
    targets = TargetTables(TREE, table)(torch.as_tensor(codes))
    assert targets.levels is None
    # closures over nodes[1:] = (a, b, a/x, a/y): {a/x, b} reaches a; {a/y} reaches a.
    assert targets.multi_hot.tolist() == [[1, 1, 1, 0], [1, 0, 0, 1]]
    assert table.classes == ("b", "a/x", "a/y")
    assert targets.labels.tolist() == [[1, 1, 0], [0, 0, 1]]


def test_a_label_beside_its_own_ancestor_adds_nothing_to_the_closure():
    with_ancestor = Targets.from_y([{"a", "a/x"}], TREE).multi_hot
    alone = Targets.from_y([{"a/x"}], TREE).multi_hot
    assert torch.equal(with_ancestor, alone)


def test_shared_counts_common_closure_nodes_brute_force():
    sets = [{"a/x", "b"}, {"a/y"}, {"b"}, {"a/x"}]
    shared = Targets.from_y(sets, TREE).shared()
    for i, j in itertools.product(range(4), repeat=2):
        expected = len(TREE.closure(sets[i]) & TREE.closure(sets[j]))
        assert shared[i, j] == expected


def test_shared_on_single_leaves_is_the_lca_depth():
    tax = Taxonomy.from_paths(["p/q/r", "p/q/s", "p/t", "u/v/w", "z"])
    leaves = list(tax.leaves)
    single = Targets.from_y(leaves, tax).shared()
    assert torch.equal(single, torch.as_tensor(tax.lca_depth_matrix(leaves, leaves)))
    # One-label sets reach the same numbers through the closures.
    assert torch.equal(Targets.from_y([{leaf} for leaf in leaves], tax).shared(), single)


# ------------------------------------------------------------ terms by hand
def test_node_bce_on_a_label_set_by_hand():
    table, codes = _table([{"a/x", "b"}])
    term = NodeBinaryCrossEntropy().bind(TREE, label_sets=table)
    targets = TargetTables(TREE, table)(torch.as_tensor(codes))
    # target (1, 1, 1, 0); logits (0, 0, 0, ln 3): three log 2 and -log(1 - 3/4) = log 4, averaged.
    out = _outputs([0.0] * 2, {}, [0.0, 0.0, 0.0, LN3])
    assert term(torch.zeros(1, 2), out, targets).item() == pytest.approx(5 / 4 * math.log(2), rel=1e-6)


def test_leaf_term_on_label_sets_is_one_sigmoid_per_class_by_hand():
    table, codes = _table([{"a/x", "b"}, {"a/y"}])  # classes (b, a/x, a/y)
    term = LeafCrossEntropy().bind(TREE, label_sets=table)
    targets = TargetTables(TREE, table)(torch.as_tensor(codes[:1]))
    # targets (1, 1, 0); logits (ln 3, 0, 0): -log(3/4) + log 2 + log 2, over 3 classes.
    out = _outputs([LN3, 0.0, 0.0], {}, [0.0] * 4)
    expected = (math.log(4 / 3) + 2 * math.log(2)) / 3
    assert term(torch.zeros(1, 2), out, targets).item() == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize(("reduction", "factor"), [("sum", 2.0), ("mean", 1.0)])
def test_per_level_term_on_label_sets_by_hand(reduction, factor):
    table, codes = _table([{"a/x", "b"}])
    term = PerLevelCrossEntropy(reduction=reduction).bind(TREE, label_sets=table)
    targets = TargetTables(TREE, table)(torch.as_tensor(codes))
    # level 1 (a, b): targets (1, 1); level 2 (a/x, a/y): targets (1, 0); zero logits give log 2 per column.
    out = _outputs([0.0], {1: [0.0, 0.0], 2: [0.0, 0.0]}, [0.0] * 4)
    assert term(torch.zeros(1, 2), out, targets).item() == pytest.approx(factor * math.log(2), rel=1e-6)


def test_per_level_term_on_label_sets_trains_a_level_of_one_node():
    tax = Taxonomy.from_paths(["a/x", "a/y"])  # level 1 holds only "a"
    table, codes = _table([{"a/x"}, {"a"}], tax)
    assert 1 not in tax.informative_levels
    heads = HierarchicalHeads(tax, 2, n_classes=len(table.classes))
    assert sorted(heads(torch.zeros(1, 2)).levels) == [1, 2]
    term = PerLevelCrossEntropy().bind(tax, label_sets=table)
    targets = TargetTables(tax, table)(torch.as_tensor(codes))
    out = HeadOutputs(torch.zeros(2, 2), {1: torch.zeros(2, 1), 2: torch.zeros(2, 2)}, torch.zeros(2, 3))
    assert term(torch.zeros(2, 2), out, targets).item() == pytest.approx(2 * math.log(2), rel=1e-6)


def test_class_weights_on_label_sets_by_hand():
    table, _ = _table([{"a/x", "b"}, {"a/y"}])  # codes 0 and 1
    counts = np.array([3, 1])  # 3 clips of {a/x, b}, 1 of {a/y}: 4 clips
    b = NodeBinaryCrossEntropy().bind(TREE, label_sets=table)
    b.set_class_weights(counts)
    # node counts a 4, b 3, a/x 3, a/y 1: (4 - count) / count
    assert b.pos_weight.tolist() == pytest.approx([0.0, 1 / 3, 1 / 3, 3.0])
    leaf = LeafCrossEntropy().bind(TREE, label_sets=table)
    leaf.set_class_weights(counts)
    assert leaf.class_weight.tolist() == pytest.approx([1 / 3, 1 / 3, 3.0])  # classes b, a/x, a/y
    levels = PerLevelCrossEntropy().bind(TREE, label_sets=table)
    levels.set_class_weights(counts)
    assert levels.class_weight[1].tolist() == pytest.approx([0.0, 1 / 3])
    assert levels.class_weight[2].tolist() == pytest.approx([1 / 3, 3.0])


def test_one_label_sets_give_the_node_term_of_single_labels():
    term = NodeBinaryCrossEntropy().bind(TREE)
    logits = torch.randn(3, 4, generator=torch.Generator().manual_seed(0))
    out = HeadOutputs(torch.zeros(3, 3), {}, logits)
    single = term(torch.zeros(3, 2), out, Targets.from_y(["a/x", "b", "a/y"], TREE))
    sets = Targets.from_y([{"a/x"}, {"b"}, {"a/y"}], TREE)
    bound = NodeBinaryCrossEntropy().bind(TREE, label_sets=_table([{"a/x"}, {"b"}, {"a/y"}])[0])
    assert torch.equal(bound(torch.zeros(3, 2), out, sets), single)


def test_a_term_that_does_not_declare_label_sets_is_refused_when_bound_to_them():
    class Norm(LossTerm):
        def compute(self, batch):
            return batch.embeddings.norm()

    with pytest.raises(ValueError, match="Norm does not train on label sets.*trains_on_label_sets = True"):
        Norm().bind(TREE, label_sets=_table([{"b"}, {"a/x"}])[0])
    with pytest.raises(ValueError, match="HierarchicalCrossEntropy does not train on label sets"):
        HierarchicalLoss("L+HXE", TREE, label_sets=_table([{"b"}, {"a/x"}])[0])


def test_class_probabilities_read_each_route():
    table, _ = _table([{"a/x", "b"}, {"a/y"}])
    classes = table.classes  # b, a/x, a/y
    out = HeadOutputs(
        torch.tensor([[0.0, LN3, -LN3]]),
        {1: torch.tensor([[5.0, LN3]]), 2: torch.tensor([[0.0, -LN3]])},
        torch.tensor([[9.0, -LN3, 0.0, LN3]]),
    )
    assert class_probabilities(out, TREE, classes, "leaf")[0].tolist() == pytest.approx([0.5, 0.75, 0.25])
    assert class_probabilities(out, TREE, classes, "deepest_level")[0].tolist() == pytest.approx([0.75, 0.5, 0.25])
    assert class_probabilities(out, TREE, classes, "nodes")[0].tolist() == pytest.approx([0.25, 0.5, 0.75])


# --------------------------------------------------------------------- mining
def _brute_force_all(sim, shared, margin):
    n = len(sim)
    return sorted(
        (a, p, q)
        for a, p, q in itertools.product(range(n), repeat=3)
        if p != a and shared[a, p] > shared[a, q] and sim[a, p] - sim[a, q] <= margin
    )


def test_the_miner_on_label_sets_matches_a_brute_force_enumeration():
    rng = np.random.default_rng(0)
    sets = [set(rng.choice(["a/x", "a/y", "b"], size=rng.integers(1, 3), replace=False)) for _ in range(9)]
    targets = Targets.from_y(sets, TREE)
    z = torch.randn(9, 3, generator=torch.Generator().manual_seed(1))
    miner = HierarchicalTripletMiner("all", margin=0.4)
    mined = sorted(zip(*(t.tolist() for t in miner.mine(z, targets.shared(), 3)), strict=True))
    sim = miner.distance.similarity(z, z)
    assert mined == _brute_force_all(sim.numpy(), targets.shared().numpy(), 0.4)
    assert mined  # the case is not vacuous


def test_batch_hard_on_label_sets_picks_the_smallest_gap_per_anchor():
    rng = np.random.default_rng(2)
    sets = [set(rng.choice(["a/x", "a/y", "b"], size=rng.integers(1, 3), replace=False)) for _ in range(10)]
    shared = Targets.from_y(sets, TREE).shared()
    z = torch.randn(10, 3, generator=torch.Generator().manual_seed(3))
    miner = HierarchicalTripletMiner("batch_hard")
    sim = miner.distance.similarity(z, z).numpy()
    anchors, positives, negatives = miner.mine(z, shared, int(shared.max()))
    valid = _brute_force_all(sim, shared.numpy(), math.inf)
    for a, p, q in zip(anchors.tolist(), positives.tolist(), negatives.tolist(), strict=True):
        best = min(sim[a2, p2] - sim[a2, q2] for a2, p2, q2 in valid if a2 == a)
        assert sim[a, p] - sim[a, q] == pytest.approx(best)
    assert sorted(anchors.tolist()) == sorted({a for a, _, _ in valid})


def test_mine_on_lca_depths_is_what_the_miner_gives_on_level_codes():
    codes = torch.tensor([[0, 0], [0, 1], [1, 2], [0, 0], [1, 3]])
    z = torch.randn(5, 4, generator=torch.Generator().manual_seed(4))
    for strategy in HierarchicalTripletMiner.STRATEGIES:
        miner = HierarchicalTripletMiner(strategy)
        via_codes = miner(z, codes)
        via_shared = miner.mine(z, lca_depth(codes, codes), 2)
        assert all(torch.equal(a, b) for a, b in zip(via_codes, via_shared, strict=True))


# ------------------------------------------------------------------ batches
def test_shuffled_batches_visit_every_clip_once_per_pass_and_count_codes():
    codes = np.array([0, 1, 1, 2, 0, 1, 2])
    data = TensorData.from_arrays(np.arange(7, dtype=np.float32)[:, None], codes, "cpu", seed=0)
    batches = ShuffledBatches(data, n_codes=3, batch_size=3)
    counts = batches.plan_epoch()
    seen = torch.cat([X[:, 0] for X, (_, triplets) in batches if triplets is None])
    assert sorted(seen.tolist()) == list(range(7))
    assert counts.tolist() == [2, 3, 2]
    assert len(batches) == 3


def test_rarest_label_strata_keep_every_class_in_training():
    sets = [{"a/x", "b"}] * 6 + [{"a/y", "b"}] * 2 + [{"b"}] * 4
    table, codes = _table(sets)
    strata = rarest_label_strata(table, codes)
    # b is on all 12 clips, a/x on 6, a/y on 2: each set's stratum is its rarest class.
    by_set = {table.sets[code]: table.classes[stratum] for code, stratum in enumerate(strata)}
    assert by_set == {frozenset({"b"}): "b", frozenset({"a/x", "b"}): "a/x", frozenset({"a/y", "b"}): "a/y"}


# ---------------------------------------------------------------- estimator
def _mixtures(n=90, seed=0):
    rng = np.random.default_rng(seed)
    leaves = ["a/x", "a/y", "b/z", "b/w"]
    centres = {leaf: rng.normal(size=6) * 3 for leaf in leaves}
    y = [frozenset(rng.choice(leaves, size=rng.integers(1, 3), replace=False).tolist()) for _ in range(n)]
    X = np.array([sum(centres[leaf] for leaf in labels) for labels in y]) + rng.normal(size=(n, 6)) * 0.3
    return X.astype(np.float32), y


def _embedder(**params):
    base = dict(embedding_dim=6, module__hidden=(24,), max_epochs=25, lr=1e-2, triplets_per_batch=8)
    return HierarchicalEmbedder(**{**base, "random_state": 0, "verbose": 0, **params})


@pytest.mark.parametrize(
    ("losses", "triplets", "route"),
    [("L", "tree", "leaf"), ("PL", "tree", "deepest_level"), ("B", "tree", "nodes"), ("PL+T", "semi_hard", None)],
)
def test_fit_on_label_sets_predicts_indicator_matrices_over_classes(losses, triplets, route):
    X, y = _mixtures()
    emb = _embedder(losses=losses, triplets=triplets, class_weight="balanced").fit(X, y)
    assert emb.classes_.tolist() == ["a/x", "a/y", "b/w", "b/z"]
    assert emb.leaf_source_ == (route or "deepest_level")
    proba = emb.predict_proba(X)
    assert proba.shape == (len(X), 4) and proba.dtype == np.float32
    assert ((proba >= 0) & (proba <= 1)).all()
    predicted = emb.predict(X)
    assert np.array_equal(predicted, (proba >= emb.threshold_).astype(np.int64))
    sets = emb.predict_label_sets(X)
    assert sets == [frozenset(emb.classes_[row > 0]) for row in predicted]
    exact = np.mean([p == t for p, t in zip(sets, y, strict=True)])
    assert emb.score(X, y) == exact
    assert exact > 0.5  # separable data: a fit that learned nothing scores about 1/10
    assert emb.transform(X).shape == (len(X), 6)


def test_fit_on_label_sets_is_deterministic_under_a_seed():
    X, y = _mixtures()
    first = _embedder(losses="PL+B+T", triplets="batch_hard").fit(X, y)
    second = _embedder(losses="PL+B+T", triplets="batch_hard").fit(X, y)
    assert np.array_equal(first.transform(X), second.transform(X))
    assert first.history_[:, "train_loss"] == second.history_[:, "train_loss"]


def test_fit_on_a_dag_with_labels_on_inner_nodes():
    dag = Taxonomy.from_parents({"Bark": ["Dog", "Wild"], "Dog": ["Domestic"], "Meow": ["Cat"], "Cat": ["Domestic"]})
    rng = np.random.default_rng(0)
    labels = ["Bark", "Meow", "Dog"]
    centres = {label: rng.normal(size=6) * 3 for label in labels}
    y = [set(rng.choice(labels, size=rng.integers(1, 3), replace=False).tolist()) for _ in range(60)]
    X = np.array([sum(centres[label] for label in s) for s in y], dtype=np.float32)
    emb = _embedder(losses="PL+B", taxonomy=dag).fit(X, y)
    assert emb.classes_.tolist() == ["Dog", "Bark", "Meow"]  # node order: by depth, then key
    assert set(emb.taxonomy_.nodes) == {"", "Domestic", "Wild", "Cat", "Dog", "Bark", "Meow"}
    assert all(labels <= set(emb.classes_) for labels in emb.predict_label_sets(X))


def test_label_set_input_is_left_as_given():
    X, y = _mixtures(40)
    y_list = [set(labels) for labels in y]
    copy = [set(labels) for labels in y_list]
    _embedder(losses="B", max_epochs=2).fit(X, y_list)
    assert y_list == copy


@pytest.mark.parametrize(
    ("params", "match"),
    [
        (dict(losses="PL+HXE"), "HXE, which train"),
        (dict(losses="SOFT"), "SOFT, which train"),
        (dict(losses="PL+T"), "triplets='tree' samples the paper's triplets"),
        (dict(losses="PL", leaf_source="level_product"), "a label set has no one path"),
    ],
)
def test_what_cannot_train_on_label_sets_is_refused_before_training(params, match, monkeypatch):
    X, y = _mixtures(30)

    def no_training(plan):
        raise AssertionError("the net was built")

    monkeypatch.setattr("sklearn_hier.embedder.build_net", no_training)
    with pytest.raises(ValueError, match=match):
        _embedder(**params).fit(X, y)


def test_unknown_labels_and_empty_sets_are_refused_by_name_against_a_taxonomy():
    X, y = _mixtures(30)
    with pytest.raises(ValueError, match=r"Unknown label 'c/q' \(sample 1\)"):
        tree = Taxonomy.from_paths(["a/x", "a/y", "b/z", "b/w"])
        _embedder(losses="B", taxonomy=tree).fit(X, [y[0], {"c/q"}, *y[2:]])
    with pytest.raises(ValueError, match="Sample 2 has no label"):
        _embedder(losses="B").fit(X, [*y[:2], set(), *y[3:]])


def test_partial_fit_on_label_sets_trains_the_fitted_sets_only():
    X, y = _mixtures(60)
    emb = _embedder(losses="B", max_epochs=2).fit(X, y)
    emb.partial_fit(X[:10], y[:10])
    assert len(emb.history_) == 4
    with pytest.raises(ValueError, match=r"label set \['a/x', 'a/y', 'b/w', 'b/z'\] of sample 0 is not one of"):
        emb.partial_fit(X[:1], [frozenset({"a/x", "a/y", "b/w", "b/z"})])
    with pytest.raises(ValueError, match="fit on label sets per sample; y holds one label per sample"):
        emb.partial_fit(X[:2], ["a/x", "b/z"])


def test_single_label_calls_are_refused_with_the_label_set_ones_named():
    X, y = _mixtures(40)
    emb = _embedder(losses="PL", max_epochs=2).fit(X, y)
    with pytest.raises(ValueError, match="use predict_label_sets"):
        emb.predict_level(X, level=1)


def test_predict_label_sets_of_a_single_label_model_are_one_label_sets():
    X, y = _mixtures(40)
    single = [sorted(labels)[0] for labels in y]
    emb = _embedder(losses="L", max_epochs=3).fit(X, single)
    assert emb.predict_label_sets(X) == [frozenset([leaf]) for leaf in emb.predict(X)]


def test_hiclass_arrays_and_indicator_matrices_train_as_their_label_sets():
    X, y = _mixtures(40)
    tree = Taxonomy.from_paths(["a/x", "a/y", "b/z", "b/w"])
    as_sets = _embedder(losses="B", max_epochs=3, taxonomy=tree).fit(X, y)
    # hiclass: samples x labels x levels, padded with "".
    rows = [[label.split("/") for label in sorted(labels)] for labels in y]
    hiclass = np.array([r + [["", ""]] * (2 - len(r)) for r in rows], dtype=object)
    # An indicator matrix of bools, its columns the taxonomy's nodes but the root.
    indicator = np.array([[node in labels for node in tree.nodes[1:]] for labels in y])
    for other in (hiclass, indicator):
        fitted = _embedder(losses="B", max_epochs=3, taxonomy=tree).fit(X, other)
        assert np.array_equal(fitted.classes_, as_sets.classes_)
        assert np.array_equal(fitted.transform(X), as_sets.transform(X))


def test_tagging_scorers_read_label_sets_over_the_fitted_classes():
    X, y = _mixtures(60)
    emb = _embedder(losses="B", max_epochs=5).fit(X[:40], y[:40])
    # The test clips carry a label the fit never saw, which no column can score.
    y_test = [labels | {"c/new"} if i % 3 == 0 else labels for i, labels in enumerate(y[40:])]
    column = {label: j for j, label in enumerate(emb.classes_)}
    truth = np.zeros((20, len(column)), dtype=bool)
    for i, labels in enumerate(y_test):
        for label in labels - {"c/new"}:
            truth[i, column[label]] = True
    proba = emb.predict_proba(X[40:])
    scorers = tagging_scorers()
    with pytest.warns(UserWarning, match="7 label"):
        assert scorers["lwlrap"](emb, X[40:], np.array(y_test, dtype=object)) == lwlrap_score(truth, proba)
    with pytest.warns(UserWarning, match="not classes of the fit"):
        got = scorers["mean_average_precision"](emb, X[40:], y_test)
    assert got == mean_average_precision(truth, proba)


def test_the_retrieval_and_tagging_scorers_run_in_cross_validate_with_unseen_label_folds():
    X, y = _mixtures(120)
    cv = UnseenLabelKFold(2, min_samples_leaf=5, random_state=0)
    scoring = {**hierarchy_scorers(), **tagging_scorers()}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # unseen labels left out of the tagging scores; F1 and LSA on label sets
        results = cross_validate(_embedder(losses="PL+B"), X, np.array(y, dtype=object), cv=cv, scoring=scoring)
    for name in ("ndcg", "ndcg_unseen", "lwlrap", "mean_average_precision"):
        assert np.isfinite(results[f"test_{name}"]).all(), name


# ------------------------------------------------------------------ threshold
def test_tune_threshold_takes_the_grid_value_of_best_micro_f1_nearest_one_half():
    rng = np.random.default_rng(0)
    for _ in range(20):
        truth = rng.random((15, 6)) < 0.3
        proba = np.clip(truth * rng.uniform(0.1, 0.6) + rng.random((15, 6)) * 0.5, 0, 1)
        # Micro F1 written out: 2 TP / (2 TP + FP + FN) over every (clip, class) decision.
        scores = {}
        for t in THRESHOLD_GRID:
            tp, wrong = (truth & (proba >= t)).sum(), (truth ^ (proba >= t)).sum()
            scores[t] = 1.0 if tp + wrong == 0 else 2 * tp / (2 * tp + wrong)
        best = max(scores.values())
        expected = min(
            (t for t, v in scores.items() if np.isclose(v, best, rtol=0, atol=1e-12)), key=lambda t: (abs(t - 0.5), t)
        )
        assert tune_threshold(truth, proba) == pytest.approx(expected)
        assert f1_score(truth, proba >= 0.5, average="micro") == pytest.approx(scores[0.5])  # the peer


def test_threshold_auto_is_tuned_on_the_validation_clips_and_a_number_is_kept():
    X, y = _mixtures(120)
    auto = _embedder(losses="PL", valid_size=0.2).fit(X, y)
    table = auto.net_.criterion_.tables.label_sets
    codes = LabelSetTable.encode([frozenset(s) for s in y], auto.taxonomy_)[1]
    _, valid = auto.net_.train_split.indices(codes)
    truth = table.indicator()[codes[valid]] > 0
    assert auto.threshold_ == tune_threshold(truth, auto.predict_proba(X[valid]))
    assert auto.threshold_ in THRESHOLD_GRID
    assert _embedder(losses="PL", valid_size=None).fit(X, y).threshold_ == 0.5
    fixed = _embedder(losses="PL", threshold=0.3).fit(X, y)
    assert fixed.threshold_ == 0.3
    assert np.array_equal(fixed.predict(X), (fixed.predict_proba(X) >= 0.3).astype(np.int64))
    before = fixed.predict(X)
    fixed.set_params(threshold=0.9)  # applies from the next fit
    assert np.array_equal(fixed.predict(X), before)
    fixed.partial_fit(X, y)
    assert fixed.threshold_ == 0.3


def test_single_label_fits_have_no_threshold():
    X, y = _mixtures(40)
    assert _embedder(losses="L", max_epochs=2).fit(X, [sorted(s)[0] for s in y]).threshold_ is None
