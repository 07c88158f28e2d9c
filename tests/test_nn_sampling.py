"""Tree-triplet sampler invariants, miners against brute force, the batch sampler."""

import itertools
from math import perm
from pathlib import Path

import numpy as np
import pytest
import torch
from _trees import ORCHIDEA_MINI as MINI
from hypothesis import given, settings
from hypothesis import strategies as st

from sklearn_hier.model_selection import UnseenLeafKFold
from sklearn_hier.nn.distances import Poincare, as_distance, pairwise_similarity
from sklearn_hier.nn.hyperbolic import expmap0, pairwise_poincare_distance
from sklearn_hier.nn.sampling import HierarchicalBatchSampler, HierarchicalTripletMiner, TreeTripletSampler
from sklearn_hier.taxonomy import Taxonomy, lca_depth


def _lca_of_triplets(tax, leaf_codes, triplets):
    codes = tax.leaf_level_codes()[leaf_codes]
    a, p, n = triplets
    return lca_depth(codes, codes)[a, p], lca_depth(codes, codes)[a, n]


def test_miniature_count_by_hand():
    # Every leaf holds 3 clips. Per parent P, per ordered (pos, neg): 1 triplet when pos has one child
    # (two clips of pos), k * (k - 1) (both orders of each pair of children) when it has k >= 2.
    #   root (Brass, Strings):        Brass has 2 kids -> 2; Strings has 1 kid -> 1        = 3
    #   Brass (Horn, Trumpet):        Horn 2 kids -> 2; Trumpet 2 kids -> 2                = 4
    #   Horn (open, straight):        open 2 kids -> 2; straight 1 kid -> 1                 = 3
    #   Trumpet (harmon, open):       1 + 1                                                 = 2
    #   Violin (open, sordina):       open 2 kids -> 2; sordina 1 kid -> 1                  = 3
    #   Horn/open, Violin/open (two leaves each): 1 + 1 each                               = 4
    #   Strings, straight, harmon, Trumpet/open, sordina: one child, no triplet            = 0
    tax = Taxonomy.from_paths(MINI)
    sampler = TreeTripletSampler(tax, np.repeat(np.arange(8), 3), random_state=0)
    assert sampler.n_triplets == 19
    assert all(len(t) == 19 for t in sampler.sample())


def test_count_with_a_wide_node():
    # root (A, B): A has 4 children -> 4 x 3 ordered pairs = 12; B has one child -> 1; A's 4 leaves: 4 x 3.
    tax = Taxonomy.from_paths(["A/1", "A/2", "A/3", "A/4", "B/5"])
    sampler = TreeTripletSampler(tax, np.repeat(np.arange(5), 2), random_state=0)
    assert sampler.n_triplets == 12 + 1 + 12


def test_anchor_is_drawn_from_each_child_in_turn():
    # Root (A, B), A with children 1 and 2: the paper's code takes (anchor 1, positive 2) and (anchor 2,
    # positive 1); an unordered rule would always take the anchor from the first-sorted child.
    tax = Taxonomy.from_paths(["A/1", "A/2", "B/3"])
    codes = np.array([0, 1, 2, 2])
    a, p, n = TreeTripletSampler(tax, codes, random_state=0).sample()
    from_a = codes[n] == 2
    assert sorted(zip(codes[a][from_a].tolist(), codes[p][from_a].tolist(), strict=True)) == [(0, 1), (1, 0)]


def test_single_clip_leaves_and_empty_leaves():
    tax = Taxonomy.from_paths(["A/1", "A/2", "B/3", "C/4"])
    # Leaf C/4 holds no clip; A/1 and A/2 one clip each, B/3 two.
    sampler = TreeTripletSampler(tax, [0, 1, 2, 2], random_state=0)
    # root (A, B) only: (A, B) -> 1|2 and 2|1 vs B; (B, A) -> two clips of B vs A. Under A, no leaf has 2 clips.
    assert sampler.n_triplets == 3
    lca_ap, lca_an = _lca_of_triplets(tax, sampler.leaf_codes, sampler.sample())
    assert (lca_ap > lca_an).all()


def test_epochs_are_redrawn_and_seeded():
    tax = Taxonomy.from_paths(MINI)
    codes = np.repeat(np.arange(8), 20)
    first = TreeTripletSampler(tax, codes, random_state=3)
    second = TreeTripletSampler(tax, codes, random_state=3)
    epoch_1, epoch_2 = first.sample(), first.sample()
    assert any(not np.array_equal(x, y) for x, y in zip(epoch_1, epoch_2, strict=True))
    for x, y in zip(epoch_1, second.sample(), strict=True):
        np.testing.assert_array_equal(x, y)
    assert all(t.dtype == np.int64 for t in epoch_1)


def test_clips_are_drawn_uniformly_from_the_whole_node():
    # Clips: A/1 -> [0], A/2 -> [1, 2, 3], B/3 -> [4, 5]. The root's (pos B, neg A) triplet takes two
    # different clips of B and a negative drawn from A's 4 clips, so from A/1 a quarter of the time.
    tax = Taxonomy.from_paths(["A/1", "A/2", "B/3"])
    codes = np.array([0, 1, 1, 1, 2, 2])
    sampler = TreeTripletSampler(tax, codes, random_state=0)
    negatives = []
    for _ in range(2000):
        a, p, n = sampler.sample()
        in_b = codes[a] == 2
        assert in_b.sum() == 1 and {a[in_b][0], p[in_b][0]} == {4, 5}
        negatives.append(n[in_b][0])
    assert set(negatives) == {0, 1, 2, 3}
    assert 0.2 < np.mean(np.array(negatives) == 0) < 0.3


def test_leaf_counts_of_an_epoch():
    tax = Taxonomy.from_paths(MINI)
    codes = np.repeat(np.arange(8), 3)
    sampler = TreeTripletSampler(tax, codes, random_state=0)
    triplets = sampler.sample()
    counts = sampler.leaf_counts(triplets)
    np.testing.assert_array_equal(counts, np.bincount(codes[np.concatenate(triplets)], minlength=8))
    assert counts.sum() == 3 * 19


def test_sampler_validates_and_copies_input():
    tax = Taxonomy.from_paths(["A/1", "A/2", "B/3"])
    codes = np.array([0, 1, 2, 2])
    sampler = TreeTripletSampler(tax, codes)
    codes[0] = 2
    assert sampler.leaf_codes[0] == 0 and not sampler.leaf_codes.flags.writeable
    with pytest.raises(ValueError, match=r"\[0, 3\).*got values in \[0, 5\]"):
        TreeTripletSampler(tax, [0, 5])
    with pytest.raises(ValueError, match=r"1-D .* got shape \(2, 2\)"):
        TreeTripletSampler(tax, [[0, 1], [1, 2]])
    with pytest.raises(TypeError, match="integers .* got dtype <U"):
        TreeTripletSampler(tax, ["A/1", "B/3"])
    with pytest.raises(ValueError, match="random_state must be"):
        TreeTripletSampler(tax, codes, random_state="seed")
    with pytest.raises(TypeError, match="taxonomy must be a Taxonomy"):
        TreeTripletSampler(["A/1"], codes)


def test_random_state_kinds():
    tax = Taxonomy.from_paths(MINI)
    codes = np.repeat(np.arange(8), 5)
    from_rs = TreeTripletSampler(tax, codes, random_state=np.random.RandomState(0)).sample()
    again = TreeTripletSampler(tax, codes, random_state=np.random.RandomState(0)).sample()
    for x, y in zip(from_rs, again, strict=True):
        np.testing.assert_array_equal(x, y)
    assert TreeTripletSampler(tax, codes, random_state=np.random.default_rng(0)).n_triplets == 19


def _orchideasol_clips():
    """One label path per clip of OrchideaSOL2020, from the leaf counts in tests/data."""
    lines = (Path(__file__).parent / "data" / "orchideasol_leaf_counts.csv").read_text().splitlines()
    rows = [line.rsplit(",", 1) for line in lines if line and not line.startswith("#")][1:]
    return np.repeat(np.array([path for path, _ in rows], dtype=object), [int(n) for _, n in rows])


def test_orchideasol_epoch_is_the_papers_2_1k():
    # The paper reports "about 2.1k" triplets per epoch on OrchideaSOL. Leaves under 10 clips are never
    # seen (170 of 197 remain) and each fold hides a fifth of those, leaving 136 visible leaves; which
    # leaves depends on the fold, so every fold is checked. Unordered anchor/positive pairs gave ~1.3k.
    y = _orchideasol_clips()
    assert len(y) == 13_265 and len(set(y)) == 197
    cv = UnseenLeafKFold(n_splits=5, min_samples_leaf=10, test_size=0.1, random_state=2024)
    counts = []
    for train, _ in cv.split(np.zeros((len(y), 1)), y):
        tax = Taxonomy.from_paths(sorted(set(y[train])))
        assert [len(level) for level in tax.levels][1:3] == [5, 16] and tax.n_leaves == 136
        codes = tax.encode(y[train])
        sampler = TreeTripletSampler(tax, codes, random_state=0)
        assert sampler.n_triplets == _expected_count(tax, np.bincount(codes, minlength=tax.n_leaves))
        counts.append(sampler.n_triplets)
    assert all(1_800 <= n <= 2_500 for n in counts), counts
    assert 2_000 <= np.mean(counts) <= 2_200, counts


# -------------------------------------------------------- hypothesis: random trees
@st.composite
def trees_with_clips(draw, min_clips=1):
    """A random ragged tree (depth <= 4, up to 4 children per node) and a clip count per leaf."""
    shape = draw(
        st.recursive(st.none(), lambda kids: st.lists(kids, min_size=1, max_size=4), max_leaves=12).filter(
            lambda t: t is not None
        )
    )
    paths = []

    def walk(node, prefix):
        for i, kid in enumerate(node):
            path = f"{prefix}/n{i}" if prefix else f"n{i}"
            if kid is None:
                paths.append(path)
            else:
                walk(kid, path)

    walk(shape, "")
    tax = Taxonomy.from_paths(paths)
    clips = draw(st.lists(st.integers(min_clips, 4), min_size=tax.n_leaves, max_size=tax.n_leaves))
    codes = np.repeat(np.arange(tax.n_leaves), clips)
    return tax, draw(st.permutations(codes)) if len(codes) < 40 else codes


def _expected_count(tax, clips_per_leaf):
    """The reference rule, counted directly on the tree: k * (k - 1) ordered (anchor, positive) child pairs."""
    under = {node: 0 for node in tax.nodes}
    for leaf, n in zip(tax.leaves, clips_per_leaf, strict=True):
        for node in ("", *tax.ancestors(leaf), leaf):
            under[node] += n

    def kids(node):
        return [k for k in tax.children(node) if under[k] > 0]

    total = 0
    for parent in tax.nodes:
        for pos in kids(parent):
            k = len(kids(pos))
            per_negative = perm(k, 2) if k >= 2 else int(under[pos] >= 2)
            total += per_negative * (len(kids(parent)) - 1)
    return total


@settings(max_examples=60, deadline=None)
@given(trees_with_clips(), st.integers(0, 2**16))
def test_sampler_invariants_on_random_trees(tree, seed):
    tax, codes = tree
    codes = np.asarray(codes)
    sampler = TreeTripletSampler(tax, codes, random_state=seed)
    a, p, n = sampler.sample()
    assert sampler.n_triplets == len(a) == _expected_count(tax, np.bincount(codes, minlength=tax.n_leaves))
    lca_ap, lca_an = _lca_of_triplets(tax, codes, (a, p, n))
    assert (lca_ap > lca_an).all()
    assert (a != p).all()


@settings(max_examples=40, deadline=None)
@given(trees_with_clips(min_clips=2), st.integers(0, 2**16))
def test_every_branching_node_yields_triplets(tree, seed):
    tax, codes = tree
    codes = np.asarray(codes)
    a, p, n = TreeTripletSampler(tax, codes, random_state=seed).sample()
    paths = tax.decode(codes)
    # The LCA of anchor and negative is the node P the triplet was made for.
    split_at = {tax.lca(paths[i], paths[j]) for i, j in zip(a, n, strict=True)}
    branching = {node for node in tax.nodes if len(tax.children(node)) >= 2}
    assert split_at == branching


# ---------------------------------------------------------------- online miner
def _brute_force(sim, lca, margin, strategy):
    """Every valid triplet by three nested loops, filtered like pytorch-metric-learning's TripletMarginMiner."""
    found = []
    size = len(sim)
    for a, p, n in itertools.product(range(size), repeat=3):
        if p == a or lca[a, p] <= lca[a, n]:
            continue
        gap = sim[a, p] - sim[a, n]
        if gap <= margin and (strategy == "all" or gap > 0):
            found.append((a, p, n, gap))
    return found


def _batch(seed, size=9, depth=3):
    rng = np.random.default_rng(seed)
    tax = Taxonomy.from_paths(["A/a/1", "A/a/2", "A/b/3", "B/c/4", "B/c/5", "C"])
    leaf_codes = rng.integers(0, tax.n_leaves, size)
    z = torch.tensor(rng.normal(size=(size, 4)), dtype=torch.float32)
    return z, torch.tensor(tax.leaf_level_codes()[leaf_codes])


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("strategy", ["all", "semi_hard"])
@pytest.mark.parametrize("distance", ["cosine", "euclidean"])
def test_threshold_miners_match_brute_force(seed, strategy, distance):
    z, codes = _batch(seed)
    miner = HierarchicalTripletMiner(strategy, margin=0.3, distance=as_distance(distance))
    mined = set(zip(*(t.tolist() for t in miner(z, codes)), strict=True))
    sim = pairwise_similarity(z, z, distance).numpy()
    expected = {(a, p, n) for a, p, n, _ in _brute_force(sim, lca_depth(codes, codes).numpy(), 0.3, strategy)}
    assert mined == expected
    assert len(expected) > 0


@pytest.mark.parametrize("strategy", ["all", "semi_hard"])
def test_poincare_miners_match_brute_force_geodesic_gaps(strategy):
    z, codes = _batch(1)
    z = expmap0(z, c=2.0)  # points of the ball of curvature -2
    miner = HierarchicalTripletMiner(strategy, margin=0.3, distance=Poincare(2.0))
    mined = set(zip(*(t.tolist() for t in miner(z, codes)), strict=True))
    sim = -pairwise_poincare_distance(z.double(), z.double(), 2.0).numpy()
    expected = {(a, p, n) for a, p, n, _ in _brute_force(sim, lca_depth(codes, codes).numpy(), 0.3, strategy)}
    assert mined == expected and len(expected) > 0


@pytest.mark.parametrize("seed", range(6))
def test_batch_hard_matches_brute_force(seed):
    z, codes = _batch(seed, size=11)
    anchors, positives, negatives = HierarchicalTripletMiner("batch_hard")(z, codes)
    sim = pairwise_similarity(z, z).numpy()
    lca = lca_depth(codes, codes).numpy()
    everything = _brute_force(sim, lca, np.inf, "all")
    hardest = {}
    for a, _, _, gap in everything:
        hardest[a] = min(hardest.get(a, np.inf), gap)
    assert sorted(anchors.tolist()) == sorted(hardest)
    for a, p, n in zip(anchors.tolist(), positives.tolist(), negatives.tolist(), strict=True):
        assert p != a and lca[a, p] > lca[a, n]
        assert sim[a, p] - sim[a, n] == pytest.approx(hardest[a], abs=1e-6)


def test_batch_hard_on_flat_labels_is_farthest_positive_and_closest_negative():
    z = torch.tensor([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.8, 0.3], [0.2, 1.0]])
    codes = torch.tensor([[0], [0], [0], [1], [1]])
    anchors, positives, negatives = HierarchicalTripletMiner("batch_hard")(z, codes)
    assert anchors.tolist() == [0, 1, 2, 3, 4]
    assert positives[0].item() == 2  # the farthest clip of class 0 from clip 0
    assert negatives[0].item() == 3  # the closest clip of class 1 to clip 0


def test_miner_edge_cases():
    miner = HierarchicalTripletMiner("all")
    one_leaf = torch.zeros(4, 2, dtype=torch.long)
    for strategy in HierarchicalTripletMiner.STRATEGIES:
        triplets = HierarchicalTripletMiner(strategy)(torch.randn(4, 3), one_leaf)
        assert all(t.numel() == 0 and t.dtype == torch.long for t in triplets)
    with pytest.raises(ValueError, match=r"got shapes \(4, 3\) and \(5, 2\)"):
        miner(torch.randn(4, 3), torch.zeros(5, 2, dtype=torch.long))
    with pytest.raises(ValueError, match="strategy must be one of .* got 'hardest'"):
        HierarchicalTripletMiner("hardest")
    with pytest.raises(ValueError, match="margin must be a finite number >= 0; got -1"):
        HierarchicalTripletMiner(margin=-1)


def test_miner_does_not_track_gradients():
    z = torch.randn(6, 3, requires_grad=True)
    codes = torch.tensor([[0, 0], [0, 0], [0, 1], [1, 2], [1, 2], [1, 3]])
    triplets = HierarchicalTripletMiner("all", margin=2.0)(z, codes)
    assert not any(t.requires_grad for t in triplets) and len(triplets[0]) > 0


# --------------------------------------------------------------- batch sampler
def test_batches_hold_m_clips_of_sibling_leaves():
    # Each parent has exactly two leaves, so with two leaves per batch every batch is a sibling pair.
    tax = Taxonomy.from_paths(["A/x/1", "A/x/2", "A/y/3", "A/y/4", "B/z/5", "B/z/6"])
    codes = np.repeat(np.arange(6), [5, 6, 7, 5, 6, 8])
    sampler = HierarchicalBatchSampler(tax, codes, batch_size=6, m_per_leaf=3, random_state=0)
    batches = list(sampler)
    assert len(batches) == len(sampler) == len(codes) // 6
    for batch in batches:
        assert len(batch) == len(set(batch.tolist())) == 6  # every leaf here holds >= 3 clips: no repeat
        leaves, counts = np.unique(codes[batch], return_counts=True)
        assert counts.tolist() == [3, 3]
        assert tax.lca(tax.leaves[leaves[0]], tax.leaves[leaves[1]]).count("/") == 1  # parent at depth 2


def test_every_anchor_has_a_triplet_in_each_batch():
    tax = Taxonomy.from_paths(MINI)
    codes = np.repeat(np.arange(8), 4)
    sampler = HierarchicalBatchSampler(tax, codes, batch_size=8, m_per_leaf=2, random_state=1)
    miner = HierarchicalTripletMiner("batch_hard")
    level_codes = torch.tensor(tax.leaf_level_codes()[codes])
    for batch in sampler:
        anchors, _, _ = miner(torch.randn(len(batch), 3), level_codes[batch])
        assert anchors.tolist() == list(range(len(batch)))


def test_small_leaves_repeat_and_epochs_differ():
    tax = Taxonomy.from_paths(["A/1", "A/2", "B/3"])
    codes = np.array([0, 1, 1, 1, 2, 2, 2, 2])
    sampler = HierarchicalBatchSampler(tax, codes, batch_size=6, m_per_leaf=3, random_state=0)
    assert len(sampler) == 1
    batch = next(iter(sampler))
    assert len(batch) == 6 and set(np.unique(codes[batch])) <= {0, 1, 2}
    if 0 in codes[batch]:
        assert np.sum(batch == 0) == 3  # leaf A/1 holds one clip, repeated
    seen = [tuple(next(iter(sampler))) for _ in range(20)]
    assert len(set(seen)) > 1


def test_batch_sampler_validates():
    tax = Taxonomy.from_paths(["A/1", "A/2"])
    with pytest.raises(ValueError, match="batch_size=10 must be a multiple of m_per_leaf=4"):
        HierarchicalBatchSampler(tax, [0, 1], batch_size=10)
    with pytest.raises(ValueError, match="m_per_leaf must be an int >= 2; got 1"):
        HierarchicalBatchSampler(tax, [0, 1], batch_size=4, m_per_leaf=1)
    with pytest.raises(ValueError, match="at least 2 leaves.* got 1"):
        HierarchicalBatchSampler(tax, [0, 0, 0], batch_size=4, m_per_leaf=2)
