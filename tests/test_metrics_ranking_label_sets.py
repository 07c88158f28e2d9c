"""MNR, hierarchical NDCG and precision@k on label sets, against references written with plain loops.

Closures are built here by set unions (``str.split`` prefixes for paths, a parent map for the
DAG), relevance from its definition, and each metric over the full N x N similarity, pair by
pair, independently of the engine's pair keys. With one leaf per clip in a tree, the label-set
engine must give the path engine's scores: compared query by query on random trees.
"""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import ndcg_score
from test_metrics_ranking import geodesic_distances, ref_ndcg_rows, similarities, tie_averaged_rank

from sklearn_hier.metrics import (
    hierarchical_ndcg_score,
    hierarchical_retrieval_scores,
    mean_normalized_rank,
    precision_at_k,
)
from sklearn_hier.metrics._global_ndcg import global_ndcg
from sklearn_hier.metrics._ranking import check_embeddings, check_labels, relevance_table
from sklearn_hier.metrics._retrieval import (
    EngineSettings,
    LeafTables,
    RetrievalRequest,
    SetTables,
    _PairKeys,
    ndcg_gain,
    ranked_scores,
)
from sklearn_hier.taxonomy import Taxonomy

# Labels on leaves and inner nodes of a ragged tree; pools of label sets draw from them.
LABELS = ["A/x/1", "A/x/2", "A/y", "B/z/1", "B/z/2", "B/w", "C", "D/u/9", "A", "A/x", "B/z", "D/u"]


class TinyDag:
    """A hand-made DAG in the shape of AudioSet's ontology: "Guitar" and "Drums" have two parents."""

    PARENTS = {
        "Music": (),
        "Instrument": ("Music",),
        "Genre": ("Music",),
        "Rock": ("Genre",),
        "Jazz": ("Genre",),
        "String": ("Instrument",),
        "Guitar": ("String", "Rock"),
        "Violin": ("String",),
        "Drums": ("Instrument", "Rock"),
        "Speech": (),
        "Male": ("Speech",),
        "Female": ("Speech",),
    }
    nodes = ("", *PARENTS)

    def __contains__(self, node):
        return node in self.PARENTS

    def ancestors(self, node):
        found, stack = [], list(self.PARENTS[node])
        while stack:
            parent = stack.pop()
            if parent not in found:
                found.append(parent)
                stack.extend(self.PARENTS[parent])
        return tuple(found)


# The metrics' taxonomy= is a Taxonomy; the references below walk TinyDag.PARENTS themselves.
DAG = Taxonomy.from_parents({node: list(parents) for node, parents in TinyDag.PARENTS.items()})


# ------------------------------------------------------------------ references
def path_ancestors(label):
    names = label.split("/")
    return {"/".join(names[:d]) for d in range(1, len(names))}


def dag_ancestors(label):
    """Every node above ``label``, by recursion over the parent map (not TinyDag.ancestors' stack)."""
    parents = TinyDag.PARENTS[label]
    return set(parents).union(*(dag_ancestors(p) for p in parents))


def closure(labels, ancestors):
    return set().union(*({label} | ancestors(label) for label in labels))


def most_specific(labels, ancestors):
    return set(labels) - set().union(*(ancestors(label) for label in labels))


def default_levels(sets, ancestors):
    """Node depths (a node's own closure size) held by more than one node of the closures."""
    nodes = set().union(*(closure(s, ancestors) for s in sets))
    depths = [len(closure([v], ancestors)) for v in nodes]
    return sorted(d for d in set(depths) if depths.count(d) > 1)


def ref_mnr(S, sets, ancestors, levels=None):
    n, C = len(sets), [closure(s, ancestors) for s in sets]
    levels = default_levels(sets, ancestors) if levels is None else levels
    per_query = []
    for q in range(n):
        others = [j for j in range(n) if j != q]
        level_scores = []
        for lv in levels:
            partners = [j for j in others if len(C[q] & C[j]) >= lv]
            if partners:
                ranks = [tie_averaged_rank(S[q], j, others) for j in partners]
                level_scores.append(sum(ranks) / len(ranks) / (n - 1))
        if level_scores:
            per_query.append(sum(level_scores) / len(level_scores))
    return sum(per_query) / len(per_query) if per_query else math.nan


def ref_gains(sets, ancestors, relevance):
    C = [closure(s, ancestors) for s in sets]
    height = max(len(c) for c in C)
    diameter = max(len(a ^ b) for a in C for b in C)

    def gain(a, b):
        overlap = len(a & b)
        up, down = len(a) - overlap, len(b) - overlap
        if relevance == "lca_depth":
            return overlap / height
        if relevance == "max":
            return 1 - max(up, down) / height
        return 1 - (up + down) / diameter if diameter else 1.0

    return np.array([[gain(a, b) for b in C] for a in C])


def ref_relevance(sets, ancestors, level):
    if level == -1:
        M = [most_specific(s, ancestors) for s in sets]
        return np.array([[bool(a & b) for b in M] for a in M])
    C = [closure(s, ancestors) for s in sets]
    return np.array([[len(a & b) >= level for b in C] for a in C])


def ref_precision(S, R, k, adaptive):
    n = len(S)
    out = []
    for q in range(n):
        others = [j for j in range(n) if j != q]
        n_rel = sum(R[q, j] for j in others)
        kq = min(k, n_rel) if adaptive else k
        if kq == 0:
            continue
        ranked = sorted(others, key=lambda j: -S[q, j])
        if kq >= len(ranked):
            hits = n_rel
        else:
            cut = S[q, ranked[kq - 1]]
            above = [j for j in others if S[q, j] > cut]
            tied = [j for j in others if S[q, j] == cut]
            hits = sum(R[q, j] for j in above) + sum(R[q, j] for j in tied) * (kq - len(above)) / len(tied)
        out.append(hits / kq)
    return sum(out) / len(out) if out else math.nan


# ------------------------------------------------------------------------ data
def label_sets(n, seed, pool_size=None, labels=LABELS, max_labels=3):
    """Random label sets of 1 to ``max_labels`` labels; with ``pool_size``, drawn from that many sets (repeats)."""
    rng = np.random.default_rng(seed)

    def draw():
        return frozenset(rng.choice(labels, size=rng.integers(1, max_labels + 1), replace=False).tolist())

    pool = [draw() for _ in range(pool_size or n)]
    return [pool[i] for i in rng.integers(0, len(pool), n)] if pool_size else pool


def embeddings(n, seed, kind):
    rng = np.random.default_rng(seed)
    if kind == "ties":  # small integers: dot products are exact, so ties are real ties
        return rng.integers(-1, 2, (n, 2)).astype(np.float32)
    emb = rng.standard_normal((n, 6)).astype(np.float32)
    if kind == "ball":  # squashed into the unit Poincare ball
        norms = np.linalg.norm(emb, axis=1, keepdims=True)
        emb = (np.tanh(norms / 2) * emb / norms).astype(np.float32)
    return emb


def reference_similarities(emb, metric):
    if metric == "poincare":
        return -geodesic_distances(emb.astype(np.float64))
    return similarities(emb, metric)


DATASETS = {
    # many distinct closures (one per clip or nearly: keys are computed per clip)
    "distinct": lambda kind: (embeddings(32, 1, kind), label_sets(32, 1)),
    # few closures, each shared by several clips (keys per closure, then gathered to clips)
    "repeated": lambda kind: (embeddings(32, 2, kind), label_sets(32, 2, pool_size=7)),
    "dag": lambda kind: (embeddings(30, 3, kind), label_sets(30, 3, labels=sorted(TinyDag.PARENTS))),
}


def data(name, kind):
    emb, sets = DATASETS[name](kind)
    if name == "dag":
        return emb, sets, {"taxonomy": DAG}, dag_ancestors
    return emb, sets, {}, path_ancestors


# ------------------------------------------------------------ brute force
# Ties only where float32 and the float64 references agree on them: dot products and distances of small
# integers (a normalised (1, 1) is not exact, so cosine would tie in one and not in the other).
CASES = [
    (name, metric, kind)
    for name in DATASETS
    for metric, kinds in (("cosine", ["continuous"]), ("dot", ["continuous", "ties"]), ("euclidean", ["ties"]))
    for kind in kinds
] + [(name, "poincare", "ball") for name in DATASETS]


@pytest.mark.parametrize(("name", "metric", "kind"), CASES)
def test_mnr_on_label_sets_matches_brute_force(name, metric, kind):
    emb, sets, taxonomy, ancestors = data(name, kind)
    S = reference_similarities(emb, metric)
    got = mean_normalized_rank(emb, sets, metric=metric, **taxonomy)
    assert got == pytest.approx(ref_mnr(S, sets, ancestors), abs=1e-12)
    for levels in ([1], [2, 4], [5]):
        got = mean_normalized_rank(emb, sets, metric=metric, levels=levels, **taxonomy)
        assert got == pytest.approx(ref_mnr(S, sets, ancestors, levels), abs=1e-12, nan_ok=True)


@pytest.mark.parametrize(("name", "metric", "kind"), CASES)
def test_ndcg_on_label_sets_matches_brute_force(name, metric, kind):
    emb, sets, taxonomy, ancestors = data(name, kind)
    S = reference_similarities(emb, metric)
    for relevance in ("lca_depth", "max", "sum"):
        G = ref_gains(sets, ancestors, relevance)
        for k in (None, 3, 100):
            got = hierarchical_ndcg_score(emb, sets, relevance=relevance, k=k, metric=metric, **taxonomy)
            assert got == pytest.approx(ref_ndcg_rows(S, G, k).mean(), abs=1e-12), (relevance, k)


@pytest.mark.parametrize(("name", "metric", "kind"), CASES)
def test_precision_on_label_sets_matches_brute_force(name, metric, kind):
    emb, sets, taxonomy, ancestors = data(name, kind)
    S = reference_similarities(emb, metric)
    for level in (-1, 1, 2, 3):
        R = ref_relevance(sets, ancestors, level)
        for k, adaptive in ((1, False), (4, False), (4, True), (40, False)):
            got = precision_at_k(emb, sets, k=k, level=level, adaptive=adaptive, metric=metric, **taxonomy)
            expected = ref_precision(S, R, k, adaptive)
            assert got == pytest.approx(expected, abs=1e-12, nan_ok=True), (level, k, adaptive)


@pytest.mark.parametrize("name", list(DATASETS))
def test_ndcg_rows_on_label_sets_equal_sklearn_ndcg_score(name):
    emb, sets, taxonomy, ancestors = data(name, "ties")
    tensor = check_embeddings(emb, "dot")
    _, tables = check_labels(sets, len(sets), "/", tensor.device, taxonomy.get("taxonomy"))
    S = similarities(emb, "dot")
    for relevance in ("lca_depth", "max", "sum"):
        G = ref_gains(sets, ancestors, relevance)
        request = RetrievalRequest(gain=ndcg_gain(tables, relevance), ndcg_k=5)
        ours = ranked_scores(tensor, tables, request, "dot")["ndcg"].numpy()
        for q in range(len(sets)):
            keep = np.arange(len(sets)) != q
            assert ours[q] == pytest.approx(ndcg_score(G[q, keep][None], S[q, keep][None], k=5), abs=1e-12)


@pytest.mark.parametrize("name", list(DATASETS))
def test_global_ndcg_on_label_sets_is_the_flattened_list(name):
    emb, sets, taxonomy, ancestors = data(name, "ties")
    S, keep = similarities(emb, "dot"), ~np.eye(len(sets), dtype=bool)
    tensor = check_embeddings(emb, "dot")
    _, tables = check_labels(sets, len(sets), "/", tensor.device, taxonomy.get("taxonomy"))
    for relevance, k in (("lca_depth", None), ("sum", 40), ("max", None)):
        G = ref_gains(sets, ancestors, relevance)
        expected = ndcg_score(G[keep][None], S[keep][None], k=k)
        got = hierarchical_ndcg_score(emb, sets, relevance=relevance, k=k, metric="dot", average="global", **taxonomy)
        assert got == pytest.approx(expected, abs=1e-12)
        small = EngineSettings(global_batch_pairs=150, block_pairs=200)  # many batches and blocks
        gain = ndcg_gain(tables, relevance)
        assert global_ndcg(tensor, tables, gain, k, "dot", small) == pytest.approx(expected, abs=1e-12)


def test_deep_label_sets_use_float32_keys_and_stay_exact():
    # A 70-level chain with labels at every depth: 72 overlaps x ~50 closure sizes exceed float16's 2048 keys.
    chain = ["/".join(f"n{d}" for d in range(depth)) for depth in range(1, 71)]
    rng = np.random.default_rng(0)
    sets = [
        frozenset([chain[i], f"x{j}"]) for i, j in zip(rng.integers(0, 70, 80), rng.integers(0, 3, 80), strict=True)
    ]
    _, tables = check_labels(sets, len(sets), "/", torch.device("cpu"))
    assert _PairKeys(tables, overlap=True, size=True, shared=False).weight.dtype == torch.float32
    emb = embeddings(80, 0, "continuous")
    G, S = ref_gains(sets, path_ancestors, "max"), similarities(emb, "cosine")
    got = hierarchical_retrieval_scores(emb, sets, k=3, relevance="max", levels=[1, 30, 60])
    assert got["ndcg"] == pytest.approx(ref_ndcg_rows(S, G, None).mean(), abs=1e-12)
    assert got["precision_at_k"] == pytest.approx(ref_precision(S, ref_relevance(sets, path_ancestors, -1), 3, False))
    assert got["mean_normalized_rank"] == pytest.approx(ref_mnr(S, sets, path_ancestors, [1, 30, 60]), abs=1e-12)


# ---------------------------------------------------------------- reductions
def engine_scores(emb, tables, metric, request, settings=None):
    tensor = check_embeddings(emb, metric)
    scores = ranked_scores(tensor, tables, request, metric, settings or EngineSettings())
    return {name: value.numpy() for name, value in scores.items()}


def requests(tables, depth):
    """Every request the public functions make, on ``tables``: each NDCG gain and precision level."""
    out = [RetrievalRequest(mnr_levels=tuple(range(1, depth + 1)))]
    for relevance in ("lca_depth", "max", "sum"):
        for k in (None, 3):
            out.append(RetrievalRequest(gain=ndcg_gain(tables, relevance), ndcg_k=k))
    for level in (-1, *range(1, depth + 1)):
        for k, adaptive in ((1, False), (5, False), (5, True)):
            relevant = relevance_table(tables, level)
            out.append(RetrievalRequest(relevant=relevant, precision_k=k, adaptive=adaptive))
            out.append(RetrievalRequest(mnr_levels=(1,), relevant=relevant, precision_k=k, adaptive=adaptive))
    return out


@st.composite
def random_trees(draw):
    """Leaves of a random ragged tree (paths, none a prefix of another) and clips labelled with them."""
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    n_paths = draw(st.integers(1, 12))
    paths = {"/".join(f"n{rng.integers(0, 3)}" for _ in range(rng.integers(1, 5))) for _ in range(n_paths)}
    leaves = sorted(p for p in paths if not any(q.startswith(p + "/") for q in paths))
    n = draw(st.integers(2, 30))
    y = np.array(leaves, dtype=object)[rng.integers(0, len(leaves), n)]
    kind = draw(st.sampled_from(["continuous", "ties", "ball"]))
    metric = "poincare" if kind == "ball" else draw(st.sampled_from(["cosine", "dot", "euclidean"]))
    return embeddings(n, seed % 2**16, kind), y, metric


@settings(max_examples=60, deadline=None)
@given(random_trees())
def test_one_leaf_per_clip_gives_the_path_scores_on_random_trees(tree):
    emb, y, metric = tree
    sets = [frozenset([path]) for path in y]
    structure, leaf = check_labels(y, len(y), "/", torch.device("cpu"))
    # taxonomy= sends label sets through the label-set engine even when they are one leaf each
    tax = Taxonomy.from_paths(y)
    _, label_set = check_labels(sets, len(y), "/", torch.device("cpu"), tax)
    assert isinstance(leaf, LeafTables) and isinstance(label_set, SetTables)
    assert (label_set.depth, label_set.informative_levels) == (structure.depth, structure.informative_levels)
    for path_request, set_request in zip(
        requests(leaf, structure.depth), requests(label_set, structure.depth), strict=True
    ):
        expected = engine_scores(emb, leaf, metric, path_request)
        got = engine_scores(emb, label_set, metric, set_request)
        for name in expected:
            if name == "mnr":  # sums of (half-)integer ranks, then the same divisions: bit for bit
                np.testing.assert_array_equal(got[name], expected[name])
            else:  # float discounts, and tied fractions of hits, add up in another order
                np.testing.assert_allclose(got[name], expected[name], rtol=0, atol=1e-12)
    for relevance in ("lca_depth", "sum"):
        tensor = check_embeddings(emb, metric)
        expected = global_ndcg(tensor, leaf, ndcg_gain(leaf, relevance), 7, metric)
        assert global_ndcg(tensor, label_set, ndcg_gain(label_set, relevance), 7, metric) == pytest.approx(
            expected, abs=1e-12
        )


@settings(max_examples=15, deadline=None)
@given(random_trees())
def test_one_leaf_sets_without_taxonomy_are_scored_as_their_paths_bit_for_bit(tree):
    emb, y, metric = tree
    sets = [frozenset([path]) for path in y]
    _, tables = check_labels(sets, len(y), "/", torch.device("cpu"))
    assert isinstance(tables, LeafTables)
    for fn, kwargs in (
        (mean_normalized_rank, {}),
        (hierarchical_ndcg_score, {"relevance": "max", "k": 3}),
        (hierarchical_ndcg_score, {"average": "global"}),
        (precision_at_k, {"k": 2, "level": 1}),
    ):
        a, b = fn(emb, sets, metric=metric, **kwargs), fn(emb, y, metric=metric, **kwargs)
        assert a == b or (math.isnan(a) and math.isnan(b))


# --------------------------------------------------------------- properties
def test_a_label_beside_its_own_ancestor_changes_nothing():
    emb = embeddings(24, 5, "continuous")
    sets = label_sets(24, 5, labels=LABELS[:8])
    redundant = [s | path_ancestors(min(s)) for s in sets]  # add the ancestors of one label
    for fn in (mean_normalized_rank, hierarchical_ndcg_score, precision_at_k):
        assert fn(emb, redundant) == fn(emb, sets)


def test_label_set_scores_do_not_depend_on_sample_order_blocks_or_sorter():
    emb, sets, _, _ = data("repeated", "ties")
    perm = np.random.default_rng(0).permutation(len(sets))
    for fn in (mean_normalized_rank, hierarchical_ndcg_score, precision_at_k):
        shuffled = fn(emb[perm], [sets[i] for i in perm], metric="dot")
        assert shuffled == pytest.approx(fn(emb, sets, metric="dot"), abs=1e-12)
    _, tables = check_labels(sets, len(sets), "/", torch.device("cpu"))
    request = RetrievalRequest(
        mnr_levels=(1, 2), gain=ndcg_gain(tables, "sum"), relevant=relevance_table(tables, -1), precision_k=3
    )
    whole = engine_scores(emb, tables, "dot", request)
    for settings_ in (
        EngineSettings(block_pairs=70),
        EngineSettings(block_pairs=200, cpu_sort="torch"),
        EngineSettings(block_pairs=200, n_sorters=2),
    ):
        got = engine_scores(emb, tables, "dot", request, settings_)
        for name in whole:
            np.testing.assert_allclose(got[name], whole[name], atol=1e-12)


@pytest.mark.parametrize("name", list(DATASETS))
def test_one_pass_on_label_sets_equals_the_three_functions(name):
    emb, sets, taxonomy, _ = data(name, "ties")
    together = hierarchical_retrieval_scores(emb, sets, k=3, levels=[1, 2], relevance="max", metric="dot", **taxonomy)
    assert together == pytest.approx(
        {
            "mean_normalized_rank": mean_normalized_rank(emb, sets, levels=[1, 2], metric="dot", **taxonomy),
            "ndcg": hierarchical_ndcg_score(emb, sets, relevance="max", metric="dot", **taxonomy),
            "precision_at_k": precision_at_k(emb, sets, k=3, metric="dot", **taxonomy),
        },
        abs=1e-12,
    )


def test_label_set_pass_builds_no_table_of_closure_pairs():
    # 2000 clips with 3 of 64 leaves each, nearly each with a closure of its own, in blocks of 8 queries:
    # no tensor the engine makes outgrows a block (8 x N) or the node x clip membership ((2V + 2) x N),
    # while a table of closure pairs would hold U x U ~ 4 million entries.
    from torch.utils._python_dispatch import TorchDispatchMode

    class LargestOutput(TorchDispatchMode):
        largest = 0

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            out = func(*args, **(kwargs or {}))
            for tensor in out if isinstance(out, tuple | list) else (out,):
                if isinstance(tensor, torch.Tensor):
                    self.largest = max(self.largest, tensor.numel())
            return out

    n, rows = 2000, 8
    leaves = [f"f{i}/g{j}/l{k}" for i in range(4) for j in range(4) for k in range(4)]
    rng = np.random.default_rng(0)
    sets = [frozenset(rng.choice(leaves, size=3, replace=False).tolist()) for _ in range(n)]
    emb = torch.from_numpy(rng.standard_normal((n, 8)).astype(np.float32))
    _, tables = check_labels(sets, n, "/", emb.device)
    n_closures, n_nodes = tables.closure.shape
    assert n_closures > n / 2 and n_nodes == 4 + 16 + 64
    request = RetrievalRequest(
        mnr_levels=(1, 2), gain=ndcg_gain(tables, "sum"), relevant=relevance_table(tables, -1), precision_k=3
    )
    with LargestOutput() as mode:
        ranked_scores(emb, tables, request, "cosine", EngineSettings(block_pairs=rows * n, cpu_sort="torch"))
    assert mode.largest <= max(2 * rows * n, (2 * n_nodes + 2) * n) < n_closures**2 / 10


# --------------------------------------------------------------------- errors
@pytest.mark.parametrize(
    ("y", "kwargs", "error", "message"),
    [
        ([{"a"}, set(), {"b"}], {}, ValueError, r"Sample 1 has no label \(an empty label set\)"),
        ([{"a"}, ["b"], {"c"}], {}, TypeError, r"Sample 1 is a list \(\['b'\]\) in a sequence of label sets"),
        ({"a", "b", "c"}, {}, TypeError, "not be a single set"),
        (
            [{"a"}, {"b", "c/"}, {"d"}],
            {},
            ValueError,
            r"Label 'c/' has an empty name \(sample 1\); check for a doubled",
        ),
        ([{"a"}, {"b", None}, {"d"}], {}, ValueError, r"Label None \(sample 1\) is missing"),
        ([{"a"}, {"b"}, {1}], {}, TypeError, "mixes str 'a' and int 1"),
        (
            [{"Guitar"}, {"Rock", "Banjo"}, {"Jazz"}],
            {"taxonomy": DAG},
            ValueError,
            r"Unknown label 'Banjo' \(sample 1\): it is not a node of this taxonomy",
        ),
        ([{"Guitar"}, {""}, {"Jazz"}], {"taxonomy": DAG}, ValueError, r"Label '' is empty \(sample 1\)"),
        (["Guitar", "Rock", "Jazz"], {"taxonomy": DAG}, ValueError, "y holds no set"),
        ([{"a/x", "b"}, {"a"}, {"b"}], {"levels": [4]}, ValueError, "from 1 to 3 .the largest closure"),
        ([{"a"}, {"b"}, {"c"}], {"taxonomy": object()}, ValueError, "'taxonomy' parameter"),
    ],
)
def test_bad_label_sets_are_named(y, kwargs, error, message):
    with pytest.raises(error, match=message):
        mean_normalized_rank(np.eye(3), y, **kwargs)


def test_a_str_beside_label_sets_is_a_one_label_set_as_in_the_contract():
    emb = np.random.default_rng(0).normal(size=(4, 3))
    mixed = [{"a/x", "b"}, "a/y", {"b"}, "a/x"]
    as_sets = [{"a/x", "b"}, {"a/y"}, {"b"}, {"a/x"}]
    assert mean_normalized_rank(emb, mixed) == mean_normalized_rank(emb, as_sets)


def test_bad_precision_level_on_label_sets_is_named():
    with pytest.raises(ValueError, match="depth from 1 to 3 .the largest closure of y's label sets.; got 4"):
        precision_at_k(np.eye(3), [{"a/x", "b"}, {"a"}, {"b"}], level=4)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_label_sets_on_cuda_match_cpu():
    emb, sets, taxonomy, _ = data("distinct", "ties")
    cuda = torch.from_numpy(emb).cuda()
    for fn, kwargs in (
        (mean_normalized_rank, {}),
        (hierarchical_ndcg_score, {"relevance": "sum"}),
        (hierarchical_ndcg_score, {"average": "global"}),
        (precision_at_k, {}),
        (precision_at_k, {"adaptive": True, "level": 2}),
    ):
        expected = fn(emb, sets, metric="dot", **taxonomy, **kwargs)
        assert fn(cuda, sets, metric="dot", **taxonomy, **kwargs) == pytest.approx(expected, abs=1e-9)
