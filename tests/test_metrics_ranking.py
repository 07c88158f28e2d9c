"""MNR, hierarchical NDCG and precision@k against references written with plain loops.

The references below parse paths with str.split and rank with Python comparisons,
independently of the package; ties are checked against an exhaustive average
over every order of the tied clips.
"""

import itertools
import math

import numpy as np
import pytest
import torch
from _trees import common, names, prefix
from sklearn.metrics import ndcg_score

from sklearn_hier.metrics import (
    hierarchical_ndcg_score,
    hierarchical_retrieval_scores,
    mean_normalized_rank,
    precision_at_k,
)
from sklearn_hier.metrics._global_ndcg import global_ndcg
from sklearn_hier.metrics._ranking import check_embeddings, check_labels, relevance_table
from sklearn_hier.metrics._retrieval import DEFAULT_SETTINGS, EngineSettings, RetrievalRequest, ndcg_gain, ranked_scores

# A ragged tree: leaves at depths 1, 2 and 3, one leaf that will hold a single clip.
LEAVES = ["A/x/1", "A/x/2", "A/y", "B/z/1", "B/z/2", "B/w", "C", "D/u/9"]


def ragged_data(n, seed, dim=6):
    rng = np.random.default_rng(seed)
    y = np.array(LEAVES[:-1], dtype=object)[rng.integers(0, len(LEAVES) - 1, n - 1)]
    y = np.append(y, LEAVES[-1])  # a single-member class
    return rng.standard_normal((n, dim)).astype(np.float32), y


def tied_data(n, seed):
    # Small integers: dot products are exact in float32 and float64, so ties are real ties.
    rng = np.random.default_rng(seed)
    y = np.array(LEAVES, dtype=object)[rng.integers(0, len(LEAVES), n)]
    return rng.integers(-1, 2, (n, 2)).astype(np.float32), y


def ball_data(n, seed):
    """``ragged_data`` squashed into the unit Poincaré ball (norms tanh(|x| / 2))."""
    emb, y = ragged_data(n, seed)
    norms = np.linalg.norm(emb, axis=1, keepdims=True)
    return (np.tanh(norms / 2) * emb / norms).astype(np.float32), y


# ------------------------------------------------------------------ references
def geodesic_distances(e, c=1.0):
    """The Poincaré ball's closed form, pair by pair, in float64."""
    sq = (e**2).sum(axis=1)
    diff = ((e[:, None, :] - e[None, :, :]) ** 2).sum(-1)
    return np.arccosh(1 + 2 * c * diff / ((1 - c * sq[:, None]) * (1 - c * sq[None, :]))) / np.sqrt(c)


def similarities(emb, metric):
    e = np.asarray(emb, dtype=np.float32).astype(np.float64)
    if metric == "poincare":
        return -geodesic_distances(e)
    if metric == "cosine":
        norms = np.sqrt((e**2).sum(axis=1, keepdims=True))
        e = e / np.where(norms > 0, norms, 1.0)
    if metric == "euclidean":
        return -np.sqrt(((e[:, None, :] - e[None, :, :]) ** 2).sum(-1))
    return e @ e.T


def tie_averaged_rank(row, j, others):
    above = sum(row[i] > row[j] for i in others)
    tied = sum(row[i] == row[j] for i in others if i != j)
    return above + tied / 2


def informative_levels(y):
    depth = max(len(names(p)) for p in y)
    return [lv for lv in range(1, depth + 1) if len({prefix(p, lv) for p in y} - {None}) > 1]


def ref_mnr(S, y, levels=None):
    n = len(y)
    levels = informative_levels(y) if levels is None else levels
    per_query = []
    for q in range(n):
        others = [j for j in range(n) if j != q]
        level_scores = []
        for lv in levels:
            if prefix(y[q], lv) is None:
                continue
            partners = [j for j in others if prefix(y[j], lv) == prefix(y[q], lv)]
            if partners:
                ranks = [tie_averaged_rank(S[q], j, others) for j in partners]
                level_scores.append(sum(ranks) / len(ranks) / (n - 1))
        if level_scores:
            per_query.append(sum(level_scores) / len(level_scores))
    return sum(per_query) / len(per_query) if per_query else math.nan


def ref_gains(y, relevance):
    depth = max(len(names(p)) for p in y)
    leaves = sorted(set(y))
    diameter = max(len(names(a)) + len(names(b)) - 2 * common(a, b) for a in leaves for b in leaves)

    def gain(a, b):
        c = common(a, b)
        up, down = len(names(a)) - c, len(names(b)) - c
        if relevance == "lca_depth":
            return c / depth
        if relevance == "max":
            return 1 - max(up, down) / depth
        return 1 - (up + down) / diameter if diameter else 1.0

    return np.array([[gain(a, b) for b in y] for a in y])


def ref_dcg(scores, gains, k):
    m = len(scores)
    total = 0.0
    for j in range(m):
        start = sum(scores[i] > scores[j] for i in range(m))
        size = sum(scores[i] == scores[j] for i in range(m))
        discounts = [1 / math.log2(r + 2) if (k is None or r < k) else 0.0 for r in range(start, start + size)]
        total += gains[j] * sum(discounts) / size
    return total


def ref_ndcg_rows(S, G, k):
    n = len(S)
    rows = []
    for q in range(n):
        others = [j for j in range(n) if j != q]
        scores, gains = [S[q, j] for j in others], [G[q, j] for j in others]
        ideal = ref_dcg(sorted(gains, reverse=True), sorted(gains, reverse=True), k) if any(gains) else 0.0
        # Scoring the ideal list by its own gains treats equal gains as ties, which does not change its DCG.
        rows.append(ref_dcg(scores, gains, k) / ideal if ideal > 0 else 0.0)
    return np.array(rows)


def ref_precision(S, y, k, level, adaptive):
    n = len(y)
    out = []
    for q in range(n):
        others = [j for j in range(n) if j != q]
        key = y[q] if level == -1 else prefix(y[q], level)
        rel = {j: key is not None and (y[j] if level == -1 else prefix(y[j], level)) == key for j in others}
        n_rel = sum(rel.values())
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
            hits = sum(rel[j] for j in above) + sum(rel[j] for j in tied) * (kq - len(above)) / len(tied)
        out.append(hits / kq)
    return sum(out) / len(out) if out else math.nan


def orders_average(S, score_of_order):
    """Average of a score over every tie-break: each query's clips sorted by similarity, ties by a permutation."""
    n = len(S)
    total, count = 0.0, 0
    for perm in itertools.permutations(range(n)):
        orders = [sorted((j for j in range(n) if j != q), key=lambda j: (-S[q, j], perm.index(j))) for q in range(n)]
        total += score_of_order(orders)
        count += 1
    return total / count


def per_query_scores(emb, y, metric="cosine", settings=DEFAULT_SETTINGS, **request):
    tensor = torch.as_tensor(emb)
    _, tables = check_labels(y, len(tensor), "/", tensor.device)
    if "relevance" in request:
        request["gain"] = ndcg_gain(tables, request.pop("relevance"))
    if "level" in request:
        request["relevant"] = relevance_table(tables, request.pop("level"))
    scores = ranked_scores(tensor, tables, RetrievalRequest(**request), metric, settings)
    return {k: v.numpy() for k, v in scores.items()}


# ------------------------------------------------------------------------ MNR
@pytest.mark.parametrize("metric", ["cosine", "dot", "euclidean"])
def test_mnr_matches_brute_force(metric):
    emb, y = ragged_data(40, seed=1)
    S = similarities(emb, metric)
    assert mean_normalized_rank(emb, y, metric=metric) == pytest.approx(ref_mnr(S, y), abs=1e-12)
    assert mean_normalized_rank(emb, y, metric=metric, levels=[3]) == pytest.approx(ref_mnr(S, y, [3]), abs=1e-12)


def test_mnr_perfect_and_reversed_embeddings():
    y = np.array(["a/x"] * 3 + ["b/z"] * 3, dtype=object)
    emb = np.r_[np.tile([1.0, 0.0], (3, 1)), np.tile([0.0, 1.0], (3, 1))]
    # Two partners per level at ranks 0 and 1 (tied, so both 0.5): 0.5 / 5 at both levels.
    assert mean_normalized_rank(emb, y) == pytest.approx(0.1)
    # All clips alike: the five others tie at ranks 0..4, so every partner has rank 2: 2 / 5.
    assert mean_normalized_rank(np.ones((6, 2)), y) == pytest.approx(0.4)


@pytest.mark.parametrize("c", [1.0, 4.0])
def test_poincare_metrics_match_brute_force_geodesic_rankings(c):
    emb, y = ball_data(40, seed=4)
    emb = (emb / np.sqrt(c)).astype(np.float32)  # points of the ball of curvature -c
    # Ranked by the geodesic distance of that ball; the metrics take the points rescaled onto the unit ball.
    S = -geodesic_distances(emb.astype(np.float64), c)
    unit = np.sqrt(c) * emb
    assert mean_normalized_rank(unit, y, metric="poincare") == pytest.approx(ref_mnr(S, y), abs=1e-12)
    expected = ref_ndcg_rows(S, ref_gains(y, "lca_depth"), None).mean()
    assert hierarchical_ndcg_score(unit, y, metric="poincare") == pytest.approx(expected, abs=1e-12)
    assert precision_at_k(unit, y, k=5, metric="poincare") == pytest.approx(ref_precision(S, y, 5, -1, False))
    # The geodesic ranking is not the Euclidean one on these points.
    assert mean_normalized_rank(unit, y, metric="poincare") != pytest.approx(mean_normalized_rank(unit, y))


def test_poincare_metrics_refuse_points_outside_the_unit_ball():
    emb, y = ball_data(10, seed=5)
    emb[3] *= 1.5 / np.linalg.norm(emb[3])
    with pytest.raises(ValueError, match="unit Poincaré ball.*row 3 has norm 1.5.*sqrt\\(c\\)"):
        mean_normalized_rank(emb, y, metric="poincare")


# ----------------------------------------------------------------------- NDCG
@pytest.mark.parametrize("relevance", ["lca_depth", "max", "sum"])
@pytest.mark.parametrize("k", [None, 3, 100])
def test_ndcg_matches_brute_force(relevance, k):
    emb, y = ragged_data(30, seed=2)
    expected = ref_ndcg_rows(similarities(emb, "cosine"), ref_gains(y, relevance), k).mean()
    assert hierarchical_ndcg_score(emb, y, relevance=relevance, k=k) == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("data", [ragged_data(25, seed=3), tied_data(25, seed=3)], ids=["continuous", "ties"])
def test_ndcg_rows_equal_sklearn_ndcg_score(data):
    emb, y = data
    metric = "dot"
    S, G = similarities(emb, metric), ref_gains(y, "lca_depth")
    ours = per_query_scores(emb, y, metric, relevance="lca_depth")["ndcg"]
    for q in range(len(y)):
        keep = np.arange(len(y)) != q
        expected = ndcg_score(G[q, keep][None, :], S[q, keep][None, :])
        assert ours[q] == pytest.approx(expected, abs=1e-12), q


def test_global_ndcg_is_the_flattened_list():
    emb, y = tied_data(20, seed=4)
    S, G = similarities(emb, "dot"), ref_gains(y, "lca_depth")
    keep = ~np.eye(len(y), dtype=bool)
    for k in (None, 7):
        expected = ndcg_score(G[keep][None, :], S[keep][None, :], k=k)
        got = hierarchical_ndcg_score(emb, y, metric="dot", average="global", k=k)
        assert got == pytest.approx(expected, abs=1e-12)


def _global(emb, y, k, settings):
    tensor = check_embeddings(emb, "cosine")
    _, tables = check_labels(y, len(tensor), "/", tensor.device)
    return global_ndcg(tensor, tables, ndcg_gain(tables, "lca_depth"), k, "cosine", settings)


def test_global_ndcg_in_many_batches():
    emb, y = ragged_data(30, seed=5)
    whole = hierarchical_ndcg_score(emb, y, average="global")
    small = EngineSettings(global_batch_pairs=200, block_pairs=300)
    assert _global(emb, y, None, small) == pytest.approx(whole, abs=1e-12)
    assert _global(emb, y, 50, small) == pytest.approx(
        ndcg_score(
            ref_gains(y, "lca_depth")[~np.eye(30, dtype=bool)][None, :],
            similarities(emb, "cosine")[~np.eye(30, dtype=bool)][None, :],
            k=50,
        ),
        abs=1e-12,
    )


def test_query_and_global_ndcg_differ_when_queries_have_different_scales():
    # Every query ranks its partner first, so the per-query mean is 1. In the single
    # global list (metric="dot"), the irrelevant pairs between the large clips 0, 1 and
    # 4, 5 (similarity 100) outrank the relevant pair 2-3 (similarity 1).
    emb = np.array([[100, 0, 0], [100, 0, 0], [0, 0, 1], [0, 0, 1], [1, 14, 0], [1, 14, 0]], dtype=float)
    y = ["a", "a", "b", "b", "c", "c"]
    assert hierarchical_ndcg_score(emb, y, metric="dot") == pytest.approx(1.0)
    S, G = similarities(emb, "dot"), ref_gains(y, "lca_depth")
    keep = ~np.eye(6, dtype=bool)
    expected = ndcg_score(G[keep][None, :], S[keep][None, :])
    assert expected < 0.95
    assert hierarchical_ndcg_score(emb, y, metric="dot", average="global") == pytest.approx(expected, abs=1e-12)


# ------------------------------------------------------------------ precision
@pytest.mark.parametrize("k", [1, 5, 60])
@pytest.mark.parametrize("level", [-1, 1, 2, 3])
@pytest.mark.parametrize("adaptive", [False, True])
def test_precision_matches_brute_force(k, level, adaptive):
    emb, y = ragged_data(40, seed=6)
    expected = ref_precision(similarities(emb, "cosine"), y, k, level, adaptive)
    assert precision_at_k(emb, y, k=k, level=level, adaptive=adaptive) == pytest.approx(expected, abs=1e-12)


def test_precision_in_the_ranking_pass_equals_topk_pass():
    for emb, y in (ragged_data(30, seed=7), tied_data(30, seed=7)):
        for adaptive in (False, True):
            request = {"level": -1, "precision_k": 4, "adaptive": adaptive}
            alone = per_query_scores(emb, y, "dot", **request)["precision"]
            with_ranking = per_query_scores(emb, y, "dot", mnr_levels=(1,), **request)["precision"]
            np.testing.assert_allclose(with_ranking, alone, atol=1e-12)


# ----------------------------------------------------------------------- ties
def test_ties_score_the_average_over_every_order_of_tied_clips():
    emb = np.array([[1, 0], [1, 0], [0, 1], [1, 0], [0, 1], [1, 1]], dtype=np.float32)
    y = np.array(["a/x", "a/y", "a/x", "b/z", "b/z", "a/x"], dtype=object)
    S = similarities(emb, "dot")
    G = ref_gains(y, "lca_depth")
    n, k = len(y), 2

    def mnr(orders):
        return ref_mnr(np.array([[-order.index(j) if j in order else 0 for j in range(n)] for order in orders]), y)

    def ndcg(orders):
        rows = []
        for q, order in enumerate(orders):
            gains = [G[q, j] for j in order]
            ideal = sorted(gains, reverse=True)
            dcg = sum(g / math.log2(r + 2) for r, g in enumerate(gains[:k]))
            best = sum(g / math.log2(r + 2) for r, g in enumerate(ideal[:k]))
            rows.append(dcg / best if best else 0.0)
        return sum(rows) / n

    def precision(orders):
        return sum(sum(y[j] == y[q] for j in order[:k]) / k for q, order in enumerate(orders)) / n

    assert mean_normalized_rank(emb, y, metric="dot") == pytest.approx(orders_average(S, mnr), abs=1e-12)
    assert hierarchical_ndcg_score(emb, y, metric="dot", k=k) == pytest.approx(orders_average(S, ndcg), abs=1e-12)
    assert precision_at_k(emb, y, k=k, metric="dot") == pytest.approx(orders_average(S, precision), abs=1e-12)


def test_scores_do_not_depend_on_sample_order():
    emb, y = tied_data(30, seed=8)
    perm = np.random.default_rng(0).permutation(len(y))
    for fn in (mean_normalized_rank, hierarchical_ndcg_score, precision_at_k):
        assert fn(emb[perm], y[perm], metric="dot") == pytest.approx(fn(emb, y, metric="dot"), abs=1e-12)


def test_block_boundaries_do_not_change_scores():
    emb, y = tied_data(30, seed=9)
    request = {"mnr_levels": (1, 2), "relevance": "sum", "level": 1, "precision_k": 3}
    whole = per_query_scores(emb, y, "dot", **dict(request))
    blocked = per_query_scores(emb, y, "dot", EngineSettings(block_pairs=70), **dict(request))  # 2 queries a block
    for name in whole:
        np.testing.assert_allclose(blocked[name], whole[name], atol=1e-12)


@pytest.mark.parametrize("data", [ragged_data(30, seed=13), tied_data(30, seed=13)], ids=["continuous", "ties"])
def test_one_pass_equals_the_three_functions(data):
    emb, y = data
    together = hierarchical_retrieval_scores(emb, y, k=3, levels=[1, 2], relevance="max", metric="dot")
    assert together == pytest.approx(
        {
            "mean_normalized_rank": mean_normalized_rank(emb, y, levels=[1, 2], metric="dot"),
            "ndcg": hierarchical_ndcg_score(emb, y, relevance="max", metric="dot"),
            "precision_at_k": precision_at_k(emb, y, k=3, metric="dot"),
        },
        abs=1e-12,
    )


@pytest.mark.parametrize("n_sorters", [0, 1, 2, 3, None])
def test_sorting_backends_and_sorter_counts_agree(n_sorters):
    # cpu_sort="torch" runs the code path of GPUs (torch.sort) on the CPU.
    emb, y = tied_data(40, seed=14)
    request = {"mnr_levels": (1, 2), "relevance": "lca_depth", "level": -1, "precision_k": 5}
    expected = per_query_scores(emb, y, "dot", **dict(request))
    threads = torch.get_num_threads()
    for cpu_sort in ("numpy", "torch"):
        settings = EngineSettings(block_pairs=200, cpu_sort=cpu_sort, n_sorters=n_sorters)  # several blocks
        got = per_query_scores(emb, y, "dot", settings, **dict(request))
        for name in expected:
            np.testing.assert_allclose(got[name], expected[name], atol=1e-12)
        assert torch.get_num_threads() == threads  # a metric call never changes torch's thread count


# --------------------------------------------------------------- edge cases
def test_all_singletons_give_nan_or_zero():
    emb = np.eye(4)
    y = ["a", "b", "c", "d"]
    assert math.isnan(mean_normalized_rank(emb, y))
    assert precision_at_k(emb, y) == 0.0
    assert math.isnan(precision_at_k(emb, y, adaptive=True))
    assert hierarchical_ndcg_score(emb, y) == 0.0


def test_one_leaf_tree_has_no_informative_level():
    emb = np.random.default_rng(0).standard_normal((5, 3))
    y = ["a"] * 5
    assert math.isnan(mean_normalized_rank(emb, y))
    assert mean_normalized_rank(emb, y, levels=1) == pytest.approx(ref_mnr(similarities(emb, "cosine"), y, [1]))
    assert hierarchical_ndcg_score(emb, y, relevance="sum") == pytest.approx(1.0)


def test_two_dimensional_y_and_flat_labels():
    emb, y = ragged_data(20, seed=10)
    y2 = np.array([names(p) + [""] * (3 - len(names(p))) for p in y], dtype=object)
    assert mean_normalized_rank(emb, y2) == pytest.approx(mean_normalized_rank(emb, y))
    codes = {path: i for i, path in enumerate(sorted(set(y)))}
    assert precision_at_k(emb, [codes[p] for p in y]) == pytest.approx(precision_at_k(emb, y))


def test_torch_input_and_caller_arrays_untouched():
    emb, y = ragged_data(20, seed=11)
    emb64 = emb.astype(np.float64)
    tensor = torch.from_numpy(emb.copy())
    copies = (emb64.copy(), tensor.clone(), y.copy())
    for fn in (mean_normalized_rank, hierarchical_ndcg_score, precision_at_k):
        assert fn(tensor, y) == pytest.approx(fn(emb64, list(y)), abs=1e-12)
    np.testing.assert_array_equal(emb64, copies[0])
    assert torch.equal(tensor, copies[1])
    np.testing.assert_array_equal(y, copies[2])


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_matches_cpu():
    emb, y = tied_data(40, seed=12)
    cuda = torch.from_numpy(emb).cuda()
    for fn in (mean_normalized_rank, hierarchical_ndcg_score, precision_at_k):
        assert fn(cuda, y, metric="dot") == pytest.approx(fn(emb, y, metric="dot"), abs=1e-9)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: mean_normalized_rank(np.zeros(4), ["a"] * 4), "2D array"),
        (lambda: mean_normalized_rank(torch.zeros(4), ["a"] * 4), "must be 2-D"),
        (lambda: mean_normalized_rank(np.zeros((1, 2)), ["a"]), "at least 2"),
        (lambda: mean_normalized_rank(np.full((3, 2), np.nan), ["a"] * 3), "NaN"),
        (lambda: mean_normalized_rank(torch.full((3, 2), np.inf), ["a"] * 3), "infinity"),
        (lambda: mean_normalized_rank(np.zeros((3, 2)), ["a"] * 4), "inconsistent numbers of samples"),
        (lambda: mean_normalized_rank(np.zeros((3, 2)), ["a/x", "a", "b"]), "internal node"),
        (lambda: mean_normalized_rank(np.eye(3), ["a/x", "a/y", "b"], levels=[3]), "depths from 1 to 2"),
        (lambda: mean_normalized_rank(np.eye(3), ["a", "b", "c"], metric="l1"), "'metric' parameter"),
        (lambda: hierarchical_ndcg_score(np.eye(3), ["a", "b", "c"], relevance="depth"), "'relevance' parameter"),
        (lambda: hierarchical_ndcg_score(np.eye(3), ["a", "b", "c"], average="micro"), "'average' parameter"),
        (lambda: precision_at_k(np.eye(3), ["a", "b", "c"], k=0), "'k' parameter"),
        (lambda: precision_at_k(np.eye(3), ["a/x", "a/y", "b"], level=3), "level must be -1"),
        (lambda: precision_at_k(np.eye(3) * 1e30, ["a", "b", "c"], metric="dot"), "too large"),
    ],
)
def test_bad_input_is_named(call, message):
    with pytest.raises((ValueError, TypeError), match=message):
        call()
