"""The PyTorch model core: backbones, heads, loss terms, triplet samplers and miners, the Poincaré ball.

Pure PyTorch (plus numpy and :mod:`sklearn_hier.taxonomy`); nothing here imports
scikit-learn or skorch.
"""

from sklearn_hier.nn.backbones import MLP, ConvModel
from sklearn_hier.nn.distances import Cosine, Distance, Dot, Euclidean, Poincare, as_distance, pairwise_similarity
from sklearn_hier.nn.heads import HeadOutputs, HierarchicalHeads, class_probabilities, leaf_log_scores
from sklearn_hier.nn.hyperbolic import (
    PoincareEmbedding,
    check_in_ball,
    expmap0,
    logmap0,
    pairwise_poincare_distance,
    poincare_distance,
    poincare_similarity,
)
from sklearn_hier.nn.network import EmbeddingNetwork
from sklearn_hier.nn.params import HyperParameters
from sklearn_hier.nn.sampling import HierarchicalBatchSampler, HierarchicalTripletMiner, TreeTripletSampler
from sklearn_hier.nn.spec import HierarchicalLoss, LossSpec
from sklearn_hier.nn.targets import LabelSetTable, Targets, TargetTables
from sklearn_hier.nn.terms import (
    HierarchicalCrossEntropy,
    LeafCrossEntropy,
    LossBatch,
    LossTerm,
    NodeBinaryCrossEntropy,
    PerLevelCrossEntropy,
    SoftLabelCrossEntropy,
    TermContext,
    TripletMarginLoss,
)

__all__ = [
    "ConvModel",
    "Cosine",
    "Distance",
    "Dot",
    "EmbeddingNetwork",
    "Euclidean",
    "HeadOutputs",
    "HierarchicalBatchSampler",
    "HierarchicalCrossEntropy",
    "HierarchicalHeads",
    "HierarchicalLoss",
    "HierarchicalTripletMiner",
    "HyperParameters",
    "LabelSetTable",
    "LeafCrossEntropy",
    "LossBatch",
    "LossSpec",
    "LossTerm",
    "MLP",
    "NodeBinaryCrossEntropy",
    "PerLevelCrossEntropy",
    "Poincare",
    "PoincareEmbedding",
    "SoftLabelCrossEntropy",
    "TargetTables",
    "Targets",
    "TermContext",
    "TreeTripletSampler",
    "TripletMarginLoss",
    "as_distance",
    "check_in_ball",
    "class_probabilities",
    "expmap0",
    "leaf_log_scores",
    "logmap0",
    "pairwise_poincare_distance",
    "pairwise_similarity",
    "poincare_distance",
    "poincare_similarity",
]
