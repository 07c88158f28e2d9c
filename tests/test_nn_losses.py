"""Loss terms against values worked out by hand on a 2-level toy tree, binding, and the loss specification."""

import math

import numpy as np
import pytest
import torch

from sklearn_hier.nn import (
    Euclidean,
    HierarchicalCrossEntropy,
    HierarchicalLoss,
    LeafCrossEntropy,
    LossSpec,
    LossTerm,
    NodeBinaryCrossEntropy,
    PerLevelCrossEntropy,
    Poincare,
    SoftLabelCrossEntropy,
    Targets,
    TermContext,
    TripletMarginLoss,
)
from sklearn_hier.nn.backbones import ConvModel
from sklearn_hier.nn.heads import HeadOutputs, HierarchicalHeads
from sklearn_hier.nn.hyperbolic import PoincareEmbedding
from sklearn_hier.nn.spec import BUILTIN_TERMS
from sklearn_hier.taxonomy import Taxonomy

LN2, LN3 = math.log(2), math.log(3)

# Toy tree: root -> A -> {a1, a2}; root -> B -> b1.
# Leaf codes a1=0, a2=1, b1=2; level 1: A=0, B=1; level 2: a1=0, a2=1, b1=2.
# Node columns (nodes[1:]): A, B, A/a1, A/a2, B/b1.
TOY = ["A/a1", "A/a2", "B/b1"]


@pytest.fixture
def toy():
    return Taxonomy.from_paths(TOY)


@pytest.fixture
def batch(toy):
    """Two samples, a1 and b1, with logits chosen so that every probability is a simple fraction."""
    outputs = HeadOutputs(
        leaf=torch.log(torch.tensor([[0.5, 0.25, 0.25], [1.0, 1.0, 1.0]])),  # p = (1/2, 1/4, 1/4), (1/3, 1/3, 1/3)
        levels={
            1: torch.tensor([[0.0, 0.0], [0.0, LN3]]),  # p(A) = 1/2; p(B) = 3/4
            2: torch.tensor([[0.0, 0.0, 0.0], [0.0, 0.0, LN2]]),  # p(a1) = 1/3; p(b1) = 2/4
        },
        nodes=torch.tensor([[0.0] * 5, [LN3, 0.0, 0.0, 0.0, 0.0]]),  # sigmoid(ln 3) = 3/4
    )
    return torch.zeros(2, 3), outputs, Targets.from_y(["A/a1", "B/b1"], toy)


# Class weights from leaf counts (a1, a2, b1) = (1, 1, 4):
#   leaves 1/count normalised: (4/9, 4/9, 1/9); level 1 counts (A, B) = (2, 4): (2/3, 1/3);
#   level 2 = leaves; node counts (A, B, a1, a2, b1) = (2, 4, 1, 1, 4), total 6:
#   pos_weight = (total - count) / count = (2, 1/2, 5, 5, 1/2).
COUNTS = np.array([1, 1, 4])


def test_toy_taxonomy_layout(toy):
    assert toy.leaves == ("A/a1", "A/a2", "B/b1")
    assert toy.nodes[1:] == ("A", "B", "A/a1", "A/a2", "B/b1")
    assert toy.informative_levels == (1, 2)


def test_targets_match_taxonomy(toy):
    y = ["B/b1", "A/a2", "A/a1", "A/a2"]
    targets = Targets.from_codes(torch.tensor(toy.encode(y)), toy)
    np.testing.assert_array_equal(targets.leaf.numpy(), toy.encode(y))
    np.testing.assert_array_equal(targets.levels.numpy(), toy.level_codes(y))
    np.testing.assert_array_equal(targets.multi_hot.numpy(), toy.path_multi_hot(y))
    assert targets.leaf.dtype == targets.levels.dtype == torch.long


def test_targets_reject_bad_codes(toy):
    with pytest.raises(ValueError, match=r"\[0, 3\).*\[0, 3\]"):
        Targets.from_codes(torch.tensor([0, 3]), toy)
    with pytest.raises(ValueError, match="1-D integer"):
        Targets.from_codes(torch.tensor([0.0, 1.0]), toy)


def test_leaf_cross_entropy_by_hand(toy, batch):
    term = LeafCrossEntropy().bind(toy)
    # a1 with p = 1/2 -> ln 2; b1 with p = 1/3 -> ln 3.
    assert term(*batch).item() == pytest.approx((LN2 + LN3) / 2)  # 0.895880
    term.set_class_weights(COUNTS)
    # Weighted mean (4/9 ln 2 + 1/9 ln 3) / (5/9).
    assert term(*batch, weighted=True).item() == pytest.approx(0.7742402, abs=1e-6)
    assert term(*batch, weighted=False).item() == pytest.approx(0.8958797, abs=1e-6)


def test_per_level_cross_entropy_by_hand(toy, batch):
    # Level 1: (ln 2 + ln 4/3) / 2; level 2: (ln 3 + ln 2) / 2; summed = ln 4.
    assert PerLevelCrossEntropy().bind(toy)(*batch).item() == pytest.approx(1.3862944, abs=1e-6)
    assert PerLevelCrossEntropy(reduction="mean").bind(toy)(*batch).item() == pytest.approx(0.6931472, abs=1e-6)
    term = PerLevelCrossEntropy().bind(toy)
    term.set_class_weights(COUNTS)
    # Level 1: 2/3 ln 2 + 1/3 ln 4/3 = 0.557992; level 2: (4/9 ln 3 + 1/9 ln 2) / (5/9) = 1.017519.
    assert term(*batch, weighted=True).item() == pytest.approx(1.5755114, abs=1e-6)


def test_per_level_ignores_levels_past_a_path_end():
    ragged = Taxonomy.from_paths(["A/a1", "A/a2", "B"])
    outputs = HeadOutputs(
        leaf=torch.zeros(1, 3), levels={1: torch.zeros(1, 2), 2: torch.zeros(1, 2)}, nodes=torch.zeros(1, 4)
    )
    targets = Targets.from_y(["B"], ragged)
    assert targets.levels.tolist() == [[1, -1]]
    # Only level 1 counts (ln 2); level 2 has no sample and adds 0, not NaN.
    assert PerLevelCrossEntropy().bind(ragged)(torch.zeros(1, 2), outputs, targets).item() == pytest.approx(LN2)


def test_node_binary_cross_entropy_by_hand(toy, batch):
    # Ten cells: nine at logit 0 (ln 2 each), one negative cell at logit ln 3 (-ln(1 - 3/4) = 2 ln 2).
    assert NodeBinaryCrossEntropy().bind(toy)(*batch).item() == pytest.approx(1.1 * LN2)  # 0.762462
    term = NodeBinaryCrossEntropy().bind(toy)
    term.set_class_weights(COUNTS)
    np.testing.assert_allclose(term.pos_weight.numpy(), [2, 0.5, 5, 5, 0.5])
    # a1 row, targets (1, 0, 1, 0, 0): (2 + 1 + 5 + 1 + 1) ln 2; b1 row, targets (0, 1, 0, 0, 1):
    # (2 + 0.5 + 1 + 1 + 0.5) ln 2; mean over 10 cells = 1.5 ln 2.
    assert term(*batch, weighted=True).item() == pytest.approx(1.0397208, abs=1e-6)


def test_triplet_loss_by_hand(toy):
    z = torch.tensor([[1.0, 0.0], [1.0, 1.0], [0.0, 1.0]])
    triplets = (torch.tensor([0, 0]), torch.tensor([1, 2]), torch.tensor([2, 1]))
    # (0, 1, 2): 0.3 - 0.7071 + 0 < 0 -> 0; (0, 2, 1): 0.3 - 0 + 0.7071 = 1.0071; mean 0.503553.
    assert TripletMarginLoss().bind(toy)(z, None, None, triplets).item() == pytest.approx(0.5035534, abs=1e-6)
    z = torch.tensor([[0.0, 0.0], [3.0, 4.0], [1.0, 0.0]])
    one = (torch.tensor([0]), torch.tensor([1]), torch.tensor([2]))
    # Euclidean: 0.3 + d(a, p) - d(a, n) = 0.3 + 5 - 1.
    assert TripletMarginLoss().bind(toy, distance=Euclidean())(z, None, None, one).item() == pytest.approx(4.3)
    assert TripletMarginLoss(margin=0.0).bind(toy, distance=Euclidean())(z, None, None, one).item() == pytest.approx(
        4.0
    )


def test_triplet_loss_on_the_poincare_ball_by_hand(toy):
    z = torch.tensor([[0.0, 0.0], [0.5, 0.0], [0.0, 0.25]])
    one = (torch.tensor([0]), torch.tensor([2]), torch.tensor([1]))
    # From the origin d(0, x) = 2 artanh(sqrt(c) |x|) / sqrt(c): 0.3 + 2 artanh(0.25) - 2 artanh(0.5).
    expected = 0.3 + 2 * math.atanh(0.25) - 2 * math.atanh(0.5)
    term = TripletMarginLoss().bind(toy, distance=Poincare())
    assert term(z, None, None, one).item() == pytest.approx(max(expected, 0.0), abs=1e-6)
    # Curvature -4: d(0, x) = 2 artanh(2 |x|) / 2, so 0.3 + artanh(0.4) - artanh(0.2); the same through a ball module.
    z = torch.tensor([[0.0, 0.0], [0.2, 0.0], [0.0, 0.1]])
    one = (torch.tensor([0]), torch.tensor([1]), torch.tensor([2]))
    expected = 0.3 + math.atanh(0.4) - math.atanh(0.2)
    assert TripletMarginLoss().bind(toy, distance=Poincare(4.0))(z, None, None, one).item() == pytest.approx(
        expected, abs=1e-6
    )
    ball = PoincareEmbedding(c=4.0)
    assert TripletMarginLoss().bind(toy, distance=Poincare().bound_to(ball))(
        z, None, None, one
    ).item() == pytest.approx(expected, abs=1e-5)
    with pytest.raises(ValueError, match="curvature must be a positive finite number"):
        Poincare(0.0)


def test_triplet_loss_without_triplets_is_zero_and_differentiable(toy):
    z = torch.randn(4, 3, requires_grad=True)
    none = tuple(torch.empty(0, dtype=torch.long) for _ in range(3))
    value = TripletMarginLoss().bind(toy)(z, None, None, none)
    value.backward()
    assert value.item() == 0.0
    assert torch.equal(z.grad, torch.zeros_like(z))
    with pytest.raises(ValueError, match="needs triplets"):
        TripletMarginLoss().bind(toy)(z, None, None, None)


def test_hierarchical_cross_entropy_by_hand(toy):
    outputs = HeadOutputs(torch.log(torch.tensor([[0.5, 0.25, 0.25]] * 2)), {}, torch.zeros(2, 5))
    # a1: P(A) = 3/4, P(a1 | A) = 2/3 -> -(ln 2/3 + e^-0.1 ln 3/4) = 0.665771.
    # b1: P(B) = 1/4, P(b1 | B) = 1   -> -e^-0.1 ln 1/4 = 1.254371.
    targets = Targets.from_y(["A/a1", "B/b1"], toy)
    value = HierarchicalCrossEntropy(alpha=0.1).bind(toy)(torch.zeros(2, 3), outputs, targets)
    assert value.item() == pytest.approx((0.6657706 + 1.2543710) / 2, abs=1e-6)


def test_hierarchical_cross_entropy_with_alpha_zero_is_leaf_cross_entropy():
    ragged = Taxonomy.from_paths(["A/a1/x", "A/a1/y", "A/a2", "B", "C/c/z"])
    logits = torch.randn(5, ragged.n_leaves, generator=torch.Generator().manual_seed(0))
    targets = Targets.from_codes(torch.arange(5), ragged)
    outputs = HeadOutputs(logits, {}, torch.zeros(5, ragged.n_nodes - 1))
    hxe = HierarchicalCrossEntropy(alpha=0.0).bind(ragged)(torch.zeros(5, 2), outputs, targets)
    assert hxe.item() == pytest.approx(torch.nn.functional.cross_entropy(logits, targets.leaf).item(), abs=1e-5)


def test_soft_labels_by_hand(toy):
    # Tree distances from a1: (0, 2, 4) edges, divided by the largest (4): (0, 1/2, 1).
    # beta = 2: q = (1, e^-1, e^-2) / sum = (0.665241, 0.244728, 0.090031).
    term = SoftLabelCrossEntropy(beta=2.0).bind(toy)
    np.testing.assert_allclose(term.soft_targets[0].numpy(), [0.665241, 0.244728, 0.090031], atol=1e-6)
    outputs = HeadOutputs(torch.log(torch.tensor([[0.5, 0.25, 0.25]])), {}, torch.zeros(1, 5))
    # -(0.665241 ln 1/2 + (0.244728 + 0.090031) ln 1/4) = 0.925184.
    value = term(torch.zeros(1, 3), outputs, Targets.from_y(["A/a1"], toy))
    assert value.item() == pytest.approx(0.9251845, abs=1e-6)


def test_weights_of_absent_classes_give_zero_not_nan(toy, batch):
    term = LeafCrossEntropy().bind(toy)
    term.set_class_weights(np.array([0, 1, 0]))  # a1 and b1 never sampled: weight 0
    assert term(*batch, weighted=True).item() == 0.0
    binary = NodeBinaryCrossEntropy().bind(toy)
    binary.set_class_weights(np.array([0, 1, 0]))
    np.testing.assert_allclose(binary.pos_weight.numpy(), [0.0, 1.0, 1.0, 0.0, 1.0])


def test_weighted_none_follows_training_mode(toy, batch):
    loss = HierarchicalLoss("L", toy)
    loss.set_class_weights(COUNTS)
    assert loss(*batch)[0].item() == pytest.approx(0.7742402, abs=1e-6)  # a fresh module is in training mode
    loss.eval()
    assert loss(*batch)[0].item() == pytest.approx(0.8958797, abs=1e-6)
    assert loss(*batch, weighted=True)[0].item() == pytest.approx(0.7742402, abs=1e-6)
    loss.train()
    loss.set_class_weights(None)
    assert loss(*batch)[0].item() == pytest.approx(0.8958797, abs=1e-6)


def test_hierarchical_loss_sums_weighted_terms(toy, batch):
    z, outputs, targets = batch
    triplets = (torch.tensor([0]), torch.tensor([1]), torch.tensor([0]))
    loss = HierarchicalLoss("0.5*L + PL + 2*B", toy)
    total, parts = loss(z, outputs, targets, triplets)
    assert list(parts) == ["L", "PL", "B"]
    expected = 0.5 * 0.8958797 + 1.3862944 + 2 * 0.7624619
    assert total.item() == pytest.approx(expected, abs=1e-5)
    assert not loss.uses_triplets


def test_include_triplet_false_leaves_triplet_terms_out(toy, batch):
    loss = HierarchicalLoss("PL+T", toy)
    assert loss.uses_triplets
    total, parts = loss(*batch, include_triplet=False)
    assert list(parts) == ["PL"]
    assert total.item() == pytest.approx(1.3862944, abs=1e-6)


def test_options_reach_their_terms(toy):
    options = {"T__margin": 0.5, "PL__reduction": "mean", "hxe__alpha": 0.7, "SOFT__beta": 3.0}
    loss = HierarchicalLoss(LossSpec.parse("PL+T+HXE+SOFT", options=options), toy, distance=Euclidean())
    assert (loss.terms["T"].margin, loss.terms["T"].distance) == (0.5, Euclidean())
    assert loss.terms["PL"].reduction == "mean"
    assert loss.terms["HXE"].alpha == 0.7 and loss.terms["SOFT"].beta == 3.0
    with pytest.raises(ValueError, match="reduction must be 'sum' or 'mean'; got 'max'"):
        LossSpec.parse("PL", options={"PL__reduction": "max"})
    with pytest.raises(ValueError, match=r"TripletMarginLoss has no option 'metric'; its options are: margin"):
        LossSpec.parse("T", options={"T__metric": "cosine"})
    with pytest.raises(ValueError, match=r"names the loss term 'B', which .* does not have; its terms are PL"):
        LossSpec.parse("PL", options={"B__x": 1})
    with pytest.raises(ValueError, match=r"criterion__level_reduction names no loss term.*criterion__PL__reduction"):
        LossSpec.parse("PL", options={"level_reduction": "mean"})


def test_set_class_weights_validates_counts(toy):
    loss = HierarchicalLoss("L", toy)
    with pytest.raises(ValueError, match=r"shape \(3,\); got \(2,\)"):
        loss.set_class_weights(np.array([1, 2]))
    with pytest.raises(ValueError, match="finite and >= 0"):
        loss.set_class_weights(np.array([1, -2, 1]))


def test_gradients_reach_every_backbone_parameter(toy):
    torch.manual_seed(0)
    backbone = ConvModel(n_mels=16, channels=4, n_blocks=2, embedding_dim=8)
    heads = HierarchicalHeads(toy, 8)
    loss = HierarchicalLoss("L+PL+B+T+HXE+SOFT", toy)
    loss.set_class_weights(COUNTS)
    x = torch.randn(6, 16, 20)
    z = backbone(x)
    targets = Targets.from_y(["A/a1", "A/a2", "B/b1"] * 2, toy)
    triplets = (torch.tensor([0, 3]), torch.tensor([1, 4]), torch.tensor([2, 5]))
    total, parts = loss(z, heads(z), targets, triplets)
    total.backward()
    assert all(torch.isfinite(v) for v in parts.values())
    for name, param in backbone.named_parameters():
        assert param.grad is not None and param.grad.abs().sum() > 0, name


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_loss_runs_on_cuda_with_class_weights_set_after_moving(toy):
    loss = HierarchicalLoss("L+PL+B+T+HXE+SOFT", toy).to("cuda")
    loss.set_class_weights(COUNTS)
    heads = HierarchicalHeads(toy, 3).to("cuda")
    z = torch.randn(6, 3, device="cuda", requires_grad=True)
    targets = Targets.from_codes(torch.tensor([0, 1, 2, 0, 1, 2], device="cuda"), toy)
    assert targets.levels.device.type == targets.multi_hot.device.type == "cuda"
    triplets = tuple(torch.tensor(t, device="cuda") for t in ([0], [3], [2]))
    total, parts = loss(z, heads(z), targets, triplets, weighted=True)
    total.backward()
    assert total.device.type == "cuda" and torch.isfinite(z.grad).all()


# --------------------------------------------------------------------- grammar
@pytest.mark.parametrize("spec", ["PL+T", "pl + t", " PL +1*T ", {"PL": 1, "T": 1.0}, ["PL", "T"], ("pl", "T")])
def test_equivalent_specs(spec):
    assert LossSpec.parse(spec).weights == {"PL": 1.0, "T": 1.0}


def test_weights_and_order():
    assert LossSpec.parse("l + 0.5*T").weights == {"L": 1.0, "T": 0.5}
    assert LossSpec.parse("T*0.25 + 2.*B + .5 * pl").weights == {"T": 0.25, "B": 2.0, "PL": 0.5}
    assert LossSpec.parse("1e-3*HXE+SOFT").weights == {"HXE": 0.001, "SOFT": 1.0}
    assert list(LossSpec.parse("T+PL+L").weights) == ["T", "PL", "L"]
    assert LossSpec.parse("T+0.5*PL+L+HXE").canonical == "L+0.5*PL+T+HXE"


@pytest.mark.parametrize(
    ("spec", "error", "match"),
    [
        ("PL+X", ValueError, r"Unknown loss term 'X'.*built-in names: L, PL, B, T, HXE, SOFT. Pass a term of your own"),
        ({"Q": 1}, ValueError, "Unknown loss term 'Q'"),
        ("PL++T", ValueError, "Cannot parse ''"),
        ("0.5*", ValueError, r"Cannot parse '0.5\*'"),
        ("2*T*3", ValueError, r"Cannot parse '2\*T\*3'"),
        ("PL+pl", ValueError, "'PL' appears twice"),
        ({"PL": -1}, ValueError, "weight of loss term 'PL' must be a finite number >= 0; got -1"),
        ({"PL": float("nan")}, ValueError, "weight of loss term 'PL'"),
        ({"PL": True}, TypeError, r"losses\['PL'\] must be a weight, a LossTerm or \(weight, LossTerm\)"),
        ({"MR": (TripletMarginLoss(), 0.5)}, TypeError, r"must be \(weight, term\), not \(term, weight\)"),
        ({"MR": TripletMarginLoss}, TypeError, r"pass an instance: TripletMarginLoss\(\)"),
        ({"MR": torch.nn.MSELoss()}, TypeError, "must be a weight, a LossTerm"),
        ([], ValueError, "at least one term"),
        ("", ValueError, "Cannot parse ''"),
        (3, TypeError, "got int"),
        ([1], TypeError, "must be identifiers"),
        ({"two words": 1}, TypeError, "must be identifiers"),
    ],
)
def test_bad_specs(spec, error, match):
    with pytest.raises(error, match=match):
        LossSpec.parse(spec)


class _MeanNorm(LossTerm):
    def __init__(self, scale=1.0):
        super().__init__()
        self.scale = scale

    def compute(self, batch):
        return self.scale * batch.embeddings.norm(dim=1).mean()


def test_a_term_object_joins_the_spec_with_its_options(toy, batch):
    mine = _MeanNorm(scale=3.0)
    loss = HierarchicalLoss({"L": 1.0, "norm": (2.0, mine)}, toy)
    z = torch.tensor([[3.0, 4.0, 0.0], [0.0, 0.0, 1.0]])
    total, parts = loss(z, batch[1], batch[2])
    assert parts["NORM"].item() == pytest.approx(3.0 * 3.0)  # scale 3 x mean norm (5 + 1) / 2
    assert total.item() == pytest.approx(0.8958797 + 2 * 9.0, abs=1e-5)
    assert loss.terms["NORM"] is not mine and mine.context is None  # the spec binds a copy; the object is untouched
    spec = LossSpec.parse({"L": 1.0, "NORM": mine}, options={"norm__scale": 5.0})
    assert spec.terms["NORM"].scale == 5.0 and mine.scale == 3.0


def test_binding_gives_a_copy_with_the_fit_context(toy):
    term = SoftLabelCrossEntropy(beta=2.0)
    bound = term.bind(toy, embedding_dim=7, distance=Euclidean())
    assert bound is not term and term.context is None and not hasattr(term, "soft_targets")
    assert bound.context == TermContext(toy, 7, Euclidean()) and bound.taxonomy is toy
    assert bound.get_params() == {"beta": 2.0}
    other = Taxonomy.from_paths(["x", "y"])
    rebound = bound.bind(other)  # binding again builds from the options, for the new tree
    assert rebound.soft_targets.shape == (2, 2) and bound.soft_targets.shape == (3, 3)
    with pytest.raises(RuntimeError, match="not bound to a fit: call term.bind"):
        term(torch.zeros(1, 2), None, Targets.from_y(["A/a1"], toy))


def test_a_term_bound_to_another_taxonomy_is_rebound_to_the_criterions(toy):
    other = Taxonomy.from_paths(["Z/z1", "Z/z2", "Y/y1", "Y/y2"])
    stale = HierarchicalCrossEntropy(alpha=0.0).bind(other)
    loss = HierarchicalLoss({"HXE": stale}, toy)
    assert loss.terms["HXE"].taxonomy is toy and loss.terms["HXE"].leaf_levels.shape == (3, 2)
    outputs = HeadOutputs(torch.log(torch.tensor([[0.5, 0.25, 0.25]])), {}, torch.zeros(1, 5))
    value = loss(torch.zeros(1, 2), outputs, loss.targets(torch.tensor([0])))[0]
    assert value.item() == pytest.approx(LN2, abs=1e-6)  # alpha 0 is the leaf cross-entropy of a1 (p = 1/2)


def test_terms_declare_what_they_read_and_train():
    declared = {name: (cls.uses_triplets, cls.head) for name, cls in BUILTIN_TERMS.items()}
    assert declared == {
        "B": (False, "nodes"),
        "HXE": (False, "leaf"),
        "L": (False, "leaf"),
        "PL": (False, "levels"),
        "SOFT": (False, "leaf"),
        "T": (True, None),
    }
    spec = LossSpec.parse({"PL": 1.0, "B": 0.0, "T": 1.0})
    assert spec.trained_heads == {"levels"} and spec.uses_triplets and spec.triplet_term.margin == 0.3
    with pytest.raises(TypeError):
        BUILTIN_TERMS["X"] = LeafCrossEntropy  # read-only: built-in names are sugar, not a registry


def test_a_string_names_terms_of_ones_own_passed_alongside():
    mine = _MeanNorm(scale=2.0)
    spec = LossSpec.parse("PL + 0.5*norm", terms={"Norm": mine})
    assert spec.weights == {"PL": 1.0, "NORM": 0.5} and spec.terms["NORM"].scale == 2.0
    assert spec.terms["NORM"] is not mine and spec.canonical == "PL+0.5*NORM"
    with pytest.raises(ValueError, match="Unknown loss term 'NORM'"):
        LossSpec.parse("PL+norm")  # no registry: a name means nothing unless its term is passed
    with pytest.raises(ValueError, match="other than the built-in ones; got 'T'"):
        LossSpec.parse("PL", terms={"T": mine})
    with pytest.raises(TypeError, match=r"terms\['N'\] must be a LossTerm instance"):
        LossSpec.parse("PL+N", terms={"N": 1.0})
