"""The PyTorch model core: backbones, heads, loss terms, triplet samplers and miners.

Pure PyTorch (plus numpy and :mod:`sklearn_hier.taxonomy`); nothing here imports
scikit-learn or skorch.
"""

from sklearn_hier.nn.backbones import MLP, ConvModel
from sklearn_hier.nn.distances import pairwise_similarity
from sklearn_hier.nn.heads import HeadOutputs, HierarchicalHeads, leaf_log_scores
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
    "SoftLabelCrossEntropy",
    "Targets",
    "TreeTripletSampler",
    "TripletMarginLoss",
    "leaf_log_scores",
    "loss_term_class",
    "loss_term_names",
    "pairwise_similarity",
    "parse_losses",
    "register_loss_term",
]
