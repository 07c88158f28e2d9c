"""Where the loss names lived before the split: targets, terms and the spec, re-exported.

New code imports from :mod:`sklearn_hier.nn` (or :mod:`~sklearn_hier.nn.targets`,
:mod:`~sklearn_hier.nn.terms`, :mod:`~sklearn_hier.nn.spec`).
"""

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
    "HierarchicalCrossEntropy",
    "HierarchicalLoss",
    "LeafCrossEntropy",
    "LossTerm",
    "NodeBinaryCrossEntropy",
    "PerLevelCrossEntropy",
    "SoftLabelCrossEntropy",
    "Targets",
    "TripletMarginLoss",
    "loss_term_class",
    "loss_term_names",
    "parse_losses",
    "register_loss_term",
]
