"""HierarchicalHeads: one head per task, columns in taxonomy order."""

import pickle

import pytest
import torch
from _trees import ORCHIDEA_MINI as MINI

from sklearn_hier.nn.heads import HeadOutputs, HierarchicalHeads, leaf_log_scores
from sklearn_hier.taxonomy import Taxonomy


def test_head_shapes_follow_the_taxonomy():
    tax = Taxonomy.from_paths(MINI)
    out = HierarchicalHeads(tax, embedding_dim=6)(torch.randn(4, 6))
    assert isinstance(out, HeadOutputs)
    assert out.leaf.shape == (4, 8)
    assert {d: t.shape for d, t in out.levels.items()} == {1: (4, 2), 2: (4, 3), 3: (4, 6), 4: (4, 8)}
    assert out.nodes.shape == (4, 19)


def test_single_node_levels_get_no_head():
    # "Music" is alone at level 1 and "Music/Brass" alone at level 2: only level 3 is informative.
    tax = Taxonomy.from_paths(["Music/Brass/Horn", "Music/Brass/Tuba"])
    heads = HierarchicalHeads(tax, embedding_dim=3)
    out = heads(torch.zeros(2, 3))
    assert list(out.levels) == [3]
    assert out.nodes.shape == (2, 4)


def test_flat_labels():
    tax = Taxonomy.from_y(["cat", "dog", "cow"])
    out = HierarchicalHeads(tax, embedding_dim=3)(torch.zeros(1, 3))
    assert out.leaf.shape == out.levels[1].shape == out.nodes.shape == (1, 3)


def test_heads_pickle_and_reject_bad_arguments():
    tax = Taxonomy.from_paths(MINI)
    heads = pickle.loads(pickle.dumps(HierarchicalHeads(tax, 4)))
    assert heads.taxonomy == tax
    with pytest.raises(TypeError, match="taxonomy must be a Taxonomy; got list"):
        HierarchicalHeads(MINI, 4)
    with pytest.raises(ValueError, match="embedding_dim must be a positive int; got 0"):
        HierarchicalHeads(tax, 0)


def test_head_outputs_move_slice_and_concatenate_like_tensors():
    tax = Taxonomy.from_paths(MINI)
    out = HierarchicalHeads(tax, embedding_dim=3)(torch.randn(5, 3))
    joined = torch.cat([out[:2], out[2:]])
    assert torch.equal(joined.leaf, out.leaf) and torch.equal(joined.nodes, out.nodes)
    assert all(torch.equal(joined.levels[d], out.levels[d]) for d in out.levels)
    half = out.to(torch.float16)
    assert half.leaf.dtype == half.nodes.dtype == half.levels[1].dtype == torch.float16
    with pytest.raises(TypeError):
        torch.stack([out, out])


def test_leaf_log_scores_of_each_route():
    tax = Taxonomy.from_paths(MINI)
    out = HierarchicalHeads(tax, embedding_dim=3)(torch.randn(4, 3))
    assert torch.equal(leaf_log_scores(out, tax, "leaf"), out.leaf)
    product = leaf_log_scores(out, tax, "level_product")
    path = tax.leaf_level_codes()[0]  # the first leaf: the sum of its nodes' per-level log-probabilities
    expected = sum(torch.log_softmax(out.levels[d], dim=1)[:, path[d - 1]] for d in out.levels if path[d - 1] >= 0)
    assert torch.allclose(product[:, 0], expected)
    # MINI's leaves all lie at depth 4: the deepest head's log-probabilities, column for column.
    deepest = leaf_log_scores(out, tax, "deepest_level")
    assert torch.equal(deepest, torch.log_softmax(out.levels[4], dim=1)[:, torch.tensor(tax.leaf_level_codes()[:, 3])])
    nodes = leaf_log_scores(out, tax, "nodes")
    assert nodes.shape == (4, tax.n_leaves) and bool((nodes < 0).all())
    with pytest.raises(ValueError, match="route must be one of"):
        leaf_log_scores(out, tax, "levels")


def test_the_papers_leaf_route_by_hand():
    # Leaves a/x, a/y, b/z. Level 1 (a, b) logits log(0.6), log(0.4); level 2 (a/x, a/y, b/z) logits
    # log(0.3), log(0.3), log(0.4). The paper takes the deepest head's argmax: b/z (0.4). The product of
    # the levels gives a/x and a/y 0.6 x 0.3 = 0.18 each and b/z 0.4 x 0.4 = 0.16: a/x (first of a tie).
    tax = Taxonomy.from_paths(["a/x", "a/y", "b/z"])
    levels = {1: torch.tensor([[0.6, 0.4]]).log(), 2: torch.tensor([[0.3, 0.3, 0.4]]).log()}
    out = HeadOutputs(torch.zeros(1, 3), levels, torch.zeros(1, 5))
    deepest = leaf_log_scores(out, tax, "deepest_level").exp()
    product = leaf_log_scores(out, tax, "level_product").exp()
    assert torch.allclose(deepest, torch.tensor([[0.3, 0.3, 0.4]]))
    assert torch.allclose(product, torch.tensor([[0.18, 0.18, 0.16]]))
    assert tax.leaves[int(deepest.argmax())] == "b/z" and tax.leaves[int(product.argmax())] == "a/x"


def test_deepest_level_route_on_leaves_of_several_depths():
    # Leaves a (depth 1), b/x and b/y (depth 2): a is scored by level 1, b/x and b/y by level 2.
    tax = Taxonomy.from_paths(["a", "b/x", "b/y"])
    levels = {1: torch.tensor([[0.7, 0.3]]).log(), 2: torch.tensor([[0.2, 0.8]]).log()}
    out = HeadOutputs(torch.zeros(1, 3), levels, torch.zeros(1, 4))
    assert torch.allclose(leaf_log_scores(out, tax, "deepest_level").exp(), torch.tensor([[0.7, 0.2, 0.8]]))
