"""The PyTorch model core: backbones, heads, loss terms, triplet samplers and miners, the Poincaré ball.

Pure PyTorch (plus numpy and :mod:`sklearn_hier.taxonomy`); nothing here imports
scikit-learn or skorch.
"""

from sklearn_hier.nn.backbones import MLP, ConvModel
from sklearn_hier.nn.distances import pairwise_similarity
from sklearn_hier.nn.heads import HeadOutputs, HierarchicalHeads, leaf_log_scores
from sklearn_hier.nn.hyperbolic import (
    PoincareEmbedding,
    check_in_ball,
    expmap0,
    logmap0,
    pairwise_poincare_distance,
    poincare_distance,
    poincare_similarity,
)
from sklearn_hier.nn.sampling import HierarchicalBatchSampler, HierarchicalTripletMiner, TreeTripletSampler
from sklearn_hier.nn.spec import HierarchicalLoss, loss_term_class, loss_term_names, parse_losses, register_loss_term
from sklearn_hier.nn.targets import Targets
from sklearn_hier.nn.terms import (
    HierarchicalCrossEntropy,
    LeafCrossEntropy,
    LossTerm,
    NodeBinaryCrossEntropy,
    PerLevelCrossEntropy,
    SoftLabelCrossEntropy,
    TripletMarginLoss,
)

__all__ = [
    "MLP",
    "ConvModel",
    "HeadOutputs",
    "HierarchicalBatchSampler",
    "HierarchicalCrossEntropy",
    "HierarchicalHeads",
    "HierarchicalLoss",
    "HierarchicalTripletMiner",
    "LeafCrossEntropy",
    "LossTerm",
    "NodeBinaryCrossEntropy",
    "PerLevelCrossEntropy",
    "PoincareEmbedding",
    "SoftLabelCrossEntropy",
    "Targets",
    "TreeTripletSampler",
    "TripletMarginLoss",
    "check_in_ball",
    "expmap0",
    "leaf_log_scores",
    "logmap0",
    "loss_term_class",
    "loss_term_names",
    "pairwise_poincare_distance",
    "pairwise_similarity",
    "parse_losses",
    "poincare_distance",
    "poincare_similarity",
    "register_loss_term",
]
