"""The loss terms: one :class:`LossTerm` subclass per term, each declaring what it reads and trains.

Every term is a module called as ``term(embeddings, outputs, targets, triplets)``
that returns a scalar. The terms of the paper are "L" (leaf cross-entropy),
"PL" (per-level cross-entropy), "B" (binary cross-entropy on every node but the
root) and "T" (triplet margin loss); "HXE" (hierarchical cross-entropy) and
"SOFT" (soft labels from tree distance) come from Bertinetto et al., "Making
Better Mistakes", CVPR 2020. Each class declares ``uses_triplets`` (whether it
reads triplets) and ``head`` (which head of
:class:`~sklearn_hier.nn.heads.HierarchicalHeads` it trains), so that nothing
has to build a term to learn either.
"""

from __future__ import annotations

import math
from numbers import Real
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from sklearn_hier.nn.distances import SIMILARITIES, check_curvature_source, pairwise_similarity
from sklearn_hier.nn.targets import Targets, Triplets
from sklearn_hier.taxonomy import Taxonomy

__all__ = [
    "HierarchicalCrossEntropy",
    "LeafCrossEntropy",
    "LossTerm",
    "NodeBinaryCrossEntropy",
    "PerLevelCrossEntropy",
    "SoftLabelCrossEntropy",
    "TripletMarginLoss",
]


# ----------------------------------------------------------------- class weights
def _inverse_frequency(counts: np.ndarray) -> np.ndarray:
    """``1 / count`` normalised to sum 1; a class that never occurs gets weight 0."""
    counts = np.asarray(counts, dtype=np.float64)
    weights = np.zeros(len(counts), dtype=np.float64)
    seen = counts > 0
    weights[seen] = 1.0 / counts[seen]
    total = weights.sum()
    return weights / total if total > 0 else weights


def _level_counts(taxonomy: Taxonomy, leaf_counts: np.ndarray, depth: int) -> np.ndarray:
    """How often each node at ``depth`` occurs: the counts of its leaves, summed."""
    codes = taxonomy.leaf_level_codes()[:, depth - 1]
    keep = codes >= 0
    weights = np.asarray(leaf_counts, dtype=np.float64)[keep]
    return np.bincount(codes[keep], weights=weights, minlength=len(taxonomy.levels[depth]))


def _as_weight(values: np.ndarray) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.float32)


def _cross_entropy(logits: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None = None) -> torch.Tensor:
    """Mean cross-entropy, weighted like ``F.cross_entropy(weight=...)``; targets < 0 are ignored.

    Unlike ``F.cross_entropy`` it returns 0, not NaN, when no sample counts
    (every target ignored, or every weight 0), and it never synchronises a GPU.
    """
    safe = target.clamp_min(0)
    losses = F.cross_entropy(logits, safe, reduction="none")
    w = (target >= 0).to(losses.dtype)
    if weight is not None:
        w = w * weight.to(losses.device, losses.dtype)[safe]
    return (w * losses).sum() / w.sum().clamp_min(torch.finfo(losses.dtype).tiny)


# ------------------------------------------------------------------- the terms
class LossTerm(nn.Module):
    """Base class of the loss terms: one interface for every term.

    A subclass sets ``uses_triplets``, takes ``(taxonomy, **options)`` in its
    constructor and implements :meth:`forward`. Terms with class weights also
    override :meth:`set_class_weights`. Register a subclass with
    :func:`register_loss_term` to use it by name in a loss spec.

    Parameters
    ----------
    taxonomy : Taxonomy
        The label tree the heads and targets follow.

    Attributes
    ----------
    uses_triplets : bool
        Whether :meth:`forward` reads ``triplets`` (such terms are left out of
        the paper's validation loss). Declared by the class.
    head : {"leaf", "levels", "nodes"} or None
        The head of :class:`~sklearn_hier.nn.heads.HierarchicalHeads` the term
        trains (``None``: none, only the embeddings). Declared by the class;
        the estimator predicts with a trained head.

    Examples
    --------
    >>> import torch
    >>> from sklearn_hier.taxonomy import Taxonomy
    >>> class EmbeddingNorm(LossTerm):
    ...     uses_triplets = False
    ...     def forward(self, embeddings, outputs, targets, triplets=None, *, weighted=None):
    ...         return embeddings.norm(dim=1).mean()
    >>> term = EmbeddingNorm(Taxonomy.from_paths(["a", "b"]))
    >>> term(torch.ones(2, 4), None, None)
    tensor(2.)
    """

    uses_triplets: ClassVar[bool] = False
    head: ClassVar[str | None] = None

    def __init__(self, taxonomy: Taxonomy) -> None:
        super().__init__()
        if not isinstance(taxonomy, Taxonomy):
            raise TypeError(f"taxonomy must be a Taxonomy; got {type(taxonomy).__name__}.")
        self.taxonomy = taxonomy

    def forward(
        self,
        embeddings: torch.Tensor,
        outputs: Any,
        targets: Targets,
        triplets: Triplets | None = None,
        *,
        weighted: bool | None = None,
    ) -> torch.Tensor:
        """Scalar loss of one batch.

        Parameters
        ----------
        embeddings : Tensor of shape (B, D)
        outputs : HeadOutputs
            Logits of :class:`~sklearn_hier.nn.heads.HierarchicalHeads`.
        targets : Targets
        triplets : tuple of three LongTensors of shape (k,), optional
            Anchor, positive and negative indices into the batch.
        weighted : bool, optional
            Whether to apply the class weights set by :meth:`set_class_weights`;
            ``None`` applies them in training mode only.
        """
        raise NotImplementedError

    def set_class_weights(self, leaf_counts: np.ndarray | None) -> None:
        """Derive class weights from how often each leaf occurs; ``None`` turns them off.

        The base class has no class weights and ignores the counts.
        """

    def _use_weights(self, weighted: bool | None) -> bool:
        return self.training if weighted is None else bool(weighted)


class LeafCrossEntropy(LossTerm):
    """ "L": cross-entropy of the leaf head against the leaf label.

    Class weights (reference code): inverse leaf frequency, normalised to sum 1.

    Examples
    --------
    >>> import torch
    >>> from sklearn_hier.nn.heads import HeadOutputs
    >>> from sklearn_hier.taxonomy import Taxonomy
    >>> tax = Taxonomy.from_paths(["a", "b"])
    >>> out = HeadOutputs(torch.zeros(1, 2), {}, torch.zeros(1, 2))
    >>> LeafCrossEntropy(tax)(torch.zeros(1, 3), out, Targets.from_y(["a"], tax))  # log 2
    tensor(0.6931)
    """

    head = "leaf"

    def __init__(self, taxonomy: Taxonomy) -> None:
        super().__init__(taxonomy)
        self.class_weight: torch.Tensor | None = None

    def set_class_weights(self, leaf_counts: np.ndarray | None) -> None:
        """Inverse leaf frequency, normalised; ``None`` turns the weights off."""
        self.class_weight = None if leaf_counts is None else _as_weight(_inverse_frequency(leaf_counts))

    def forward(
        self,
        embeddings: torch.Tensor,
        outputs: Any,
        targets: Targets,
        triplets: Triplets | None = None,
        *,
        weighted: bool | None = None,
    ) -> torch.Tensor:
        weight = self.class_weight if self._use_weights(weighted) else None
        return _cross_entropy(outputs.leaf, targets.leaf, weight)


class PerLevelCrossEntropy(LossTerm):
    """ "PL": cross-entropy of each level head against the ancestor at that level.

    Levels holding a single node are skipped; a sample whose path ends above a
    level is ignored at that level.

    Parameters
    ----------
    taxonomy : Taxonomy
    reduction : {"sum", "mean"}, default="sum"
        How the per-level values combine; the reference code sums them.

    Examples
    --------
    >>> import torch
    >>> from sklearn_hier.nn.heads import HeadOutputs
    >>> from sklearn_hier.taxonomy import Taxonomy
    >>> tax = Taxonomy.from_paths(["a/x", "a/y", "b/z"])
    >>> out = HeadOutputs(torch.zeros(1, 3), {1: torch.zeros(1, 2), 2: torch.zeros(1, 3)}, torch.zeros(1, 5))
    >>> PerLevelCrossEntropy(tax)(torch.zeros(1, 4), out, Targets.from_y(["a/x"], tax))  # log 2 + log 3
    tensor(1.7918)
    """

    head = "levels"

    def __init__(self, taxonomy: Taxonomy, reduction: str = "sum") -> None:
        super().__init__(taxonomy)
        if reduction not in ("sum", "mean"):
            raise ValueError(f"reduction must be 'sum' or 'mean'; got {reduction!r}.")
        self.reduction = reduction
        self.class_weight: dict[int, torch.Tensor] | None = None

    def set_class_weights(self, leaf_counts: np.ndarray | None) -> None:
        """Inverse frequency of each level's nodes (leaf counts summed up the tree), normalised per level."""
        if leaf_counts is None:
            self.class_weight = None
            return
        self.class_weight = {
            d: _as_weight(_inverse_frequency(_level_counts(self.taxonomy, leaf_counts, d)))
            for d in self.taxonomy.informative_levels
        }

    def forward(
        self,
        embeddings: torch.Tensor,
        outputs: Any,
        targets: Targets,
        triplets: Triplets | None = None,
        *,
        weighted: bool | None = None,
    ) -> torch.Tensor:
        weights = self.class_weight if self._use_weights(weighted) else None
        values = [
            _cross_entropy(outputs.levels[d], targets.levels[:, d - 1], None if weights is None else weights[d])
            for d in self.taxonomy.informative_levels
        ]
        if not values:  # a one-leaf tree has no informative level
            return outputs.leaf.sum() * 0.0
        stacked = torch.stack(values)
        return stacked.sum() if self.reduction == "sum" else stacked.mean()


class NodeBinaryCrossEntropy(LossTerm):
    """ "B": binary cross-entropy of the node head against the path multi-hot target.

    The mean runs over samples and nodes (``BCEWithLogitsLoss``). Class weights
    (reference code): ``pos_weight = (total - count) / count`` per node, where
    ``count`` is how often the node lies on a sampled clip's path.

    Examples
    --------
    >>> import torch
    >>> from sklearn_hier.nn.heads import HeadOutputs
    >>> from sklearn_hier.taxonomy import Taxonomy
    >>> tax = Taxonomy.from_paths(["a", "b"])
    >>> out = HeadOutputs(torch.zeros(1, 2), {}, torch.zeros(1, 2))
    >>> NodeBinaryCrossEntropy(tax)(torch.zeros(1, 3), out, Targets.from_y(["a"], tax))  # log 2
    tensor(0.6931)
    """

    head = "nodes"

    def __init__(self, taxonomy: Taxonomy) -> None:
        super().__init__(taxonomy)
        self.pos_weight: torch.Tensor | None = None

    def set_class_weights(self, leaf_counts: np.ndarray | None) -> None:
        """``pos_weight = (total - count) / count`` per node (1 for a node that never occurs)."""
        if leaf_counts is None:
            self.pos_weight = None
            return
        leaf_counts = np.asarray(leaf_counts, dtype=np.float64)
        counts = leaf_counts @ self.taxonomy.path_multi_hot(list(self.taxonomy.leaves)).astype(np.float64)
        pos_weight = np.ones(len(counts))
        seen = counts > 0
        pos_weight[seen] = (leaf_counts.sum() - counts[seen]) / counts[seen]
        self.pos_weight = _as_weight(pos_weight)

    def forward(
        self,
        embeddings: torch.Tensor,
        outputs: Any,
        targets: Targets,
        triplets: Triplets | None = None,
        *,
        weighted: bool | None = None,
    ) -> torch.Tensor:
        pos_weight = self.pos_weight if self._use_weights(weighted) else None
        if pos_weight is not None:
            pos_weight = pos_weight.to(outputs.nodes.device, outputs.nodes.dtype)
        return F.binary_cross_entropy_with_logits(outputs.nodes, targets.multi_hot, pos_weight=pos_weight)


class TripletMarginLoss(LossTerm):
    """ "T": mean over triplets of ``max(0, margin - s(a, p) + s(a, n))``.

    ``s`` is :func:`~sklearn_hier.nn.distances.pairwise_similarity`; with
    ``metric="euclidean"`` it is the negated distance, so the formula reads
    ``max(0, margin + d(a, p) - d(a, n))``. No triplet gives 0 (never NaN).

    Parameters
    ----------
    taxonomy : Taxonomy
    margin : float, default=0.3
    metric : {"cosine", "dot", "euclidean", "poincare"}, default="cosine"
        The similarity ``s``; the one place a geometry enters the term.
        ``"poincare"`` is the negated geodesic distance on the Poincaré ball
        (the embeddings must lie inside it), so the formula reads
        ``max(0, margin + d(a, p) - d(a, n))`` with ``d`` the geodesic distance.
    curvature : float or torch.nn.Module, default=1.0
        Curvature magnitude ``c`` of ``"poincare"``: a number, or the network's
        :class:`~sklearn_hier.nn.PoincareEmbedding`, whose (possibly learned)
        curvature the term then follows (and trains, through the distance).

    Examples
    --------
    >>> import torch
    >>> from sklearn_hier.taxonomy import Taxonomy
    >>> term = TripletMarginLoss(Taxonomy.from_paths(["a", "b"]), margin=0.3)
    >>> z = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]])
    >>> term(z, None, None, (torch.tensor([0]), torch.tensor([1]), torch.tensor([2])))  # 0.3 - 0 + 1
    tensor(1.3000)
    """

    uses_triplets = True

    def __init__(
        self, taxonomy: Taxonomy, margin: float = 0.3, metric: str = "cosine", curvature: float | nn.Module = 1.0
    ) -> None:
        super().__init__(taxonomy)
        if isinstance(margin, bool) or not isinstance(margin, Real) or not margin >= 0 or math.isinf(margin):
            raise ValueError(f"margin must be a finite number >= 0; got {margin!r}.")
        if metric not in SIMILARITIES:
            raise ValueError(f"metric must be one of {SIMILARITIES}; got {metric!r}.")
        self.margin = float(margin)
        self.metric = metric
        # A module (the network's ball) is registered here too; skorch hands each parameter to the optimizer once.
        self.curvature = check_curvature_source(curvature)

    def forward(
        self,
        embeddings: torch.Tensor,
        outputs: Any,
        targets: Targets,
        triplets: Triplets | None = None,
        *,
        weighted: bool | None = None,
    ) -> torch.Tensor:
        if triplets is None:
            raise ValueError("The triplet term 'T' needs triplets=(anchors, positives, negatives); got None.")
        anchors, positives, negatives = triplets
        if not anchors.shape == positives.shape == negatives.shape or anchors.ndim != 1:
            raise ValueError(
                "triplets must be three 1-D index tensors of one length; got shapes "
                f"{tuple(anchors.shape)}, {tuple(positives.shape)}, {tuple(negatives.shape)}."
            )
        if anchors.numel() == 0:
            return embeddings.sum() * 0.0  # keeps the graph, so backward() still works
        sim = self.similarity(embeddings)
        return F.relu(self.margin - sim[anchors, positives] + sim[anchors, negatives]).mean()

    def similarity(self, embeddings: torch.Tensor) -> torch.Tensor:
        """(B, B) similarities of the batch's embeddings under ``metric``; override for another geometry."""
        return pairwise_similarity(embeddings, embeddings, self.metric, c=self.curvature)


class HierarchicalCrossEntropy(LossTerm):
    """ "HXE": hierarchical cross-entropy on the leaf head (Bertinetto et al. 2020).

    The leaf softmax gives every node a probability (the sum over its leaves).
    For a sample whose leaf ``n_D`` has ancestors ``n_{D-1}, ..., n_1`` under
    the root ``n_0``, the loss is
    ``-sum_{d=1..D} exp(-alpha * (D - d)) * log(P(n_d) / P(n_{d-1}))``:
    the conditional log-probability of each edge on the path, weighted down
    the further the edge lies above the leaf. ``alpha=0`` gives the leaf
    cross-entropy.

    Parameters
    ----------
    taxonomy : Taxonomy
    alpha : float, default=0.1
        Decay of the edge weights with height (>= 0).

    Examples
    --------
    >>> import torch
    >>> from sklearn_hier.nn.heads import HeadOutputs
    >>> from sklearn_hier.taxonomy import Taxonomy
    >>> tax = Taxonomy.from_paths(["a/x", "a/y", "b/z", "b/w"])
    >>> out = HeadOutputs(torch.zeros(1, 4), {}, torch.zeros(1, 6))
    >>> # P(a) = 1/2, P(a/x | a) = 1/2: exp(-alpha) * log 2 + log 2
    >>> HierarchicalCrossEntropy(tax, alpha=0.0)(torch.zeros(1, 2), out, Targets.from_y(["a/x"], tax))
    tensor(1.3863)
    """

    head = "leaf"

    def __init__(self, taxonomy: Taxonomy, alpha: float = 0.1) -> None:
        super().__init__(taxonomy)
        if isinstance(alpha, bool) or not isinstance(alpha, Real) or not 0 <= alpha < math.inf:
            raise ValueError(f"alpha must be a finite number >= 0; got {alpha!r}.")
        self.alpha = float(alpha)
        self.register_buffer("leaf_levels", torch.tensor(np.array(taxonomy.leaf_level_codes())), persistent=False)

    def forward(
        self,
        embeddings: torch.Tensor,
        outputs: Any,
        targets: Targets,
        triplets: Triplets | None = None,
        *,
        weighted: bool | None = None,
    ) -> torch.Tensor:
        log_p = F.log_softmax(outputs.leaf, dim=1)
        table = self.leaf_levels.to(log_p.device)
        path_length = (targets.levels >= 0).sum(dim=1)
        own_leaf = torch.arange(log_p.shape[1], device=log_p.device) == targets.leaf[:, None]
        previous = torch.zeros_like(log_p[:, 0])
        loss = torch.zeros_like(previous)
        for depth in range(1, self.taxonomy.depth + 1):
            code = targets.levels[:, depth - 1]
            on_path = code >= 0
            # Past a path's end the node is the leaf itself, so its edge term is exactly 0.
            under = torch.where(on_path[:, None], table[:, depth - 1] == code[:, None], own_leaf)
            log_node = torch.logsumexp(log_p.masked_fill(~under, -math.inf), dim=1)
            edge_weight = torch.exp(-self.alpha * (path_length - depth).clamp_min(0)) * on_path
            loss = loss - edge_weight * (log_node - previous)
            previous = log_node
        return loss.mean()


class SoftLabelCrossEntropy(LossTerm):
    """ "SOFT": cross-entropy of the leaf head against soft labels (Bertinetto et al. 2020).

    The target of leaf ``y`` puts mass ``exp(-beta * d(y, j))`` on leaf ``j``
    (normalised to sum 1), where ``d`` is the tree distance (edges through the
    LCA) divided by its largest value between two leaves, so that ``d`` lies in
    [0, 1] as in the paper; on a tree of uniform depth it is the height of the
    LCA over the tree's height.

    Parameters
    ----------
    taxonomy : Taxonomy
    beta : float, default=10.0
        Sharpness (>= 0); large values approach the leaf cross-entropy, 0 gives
        uniform targets.

    Examples
    --------
    >>> import torch
    >>> from sklearn_hier.nn.heads import HeadOutputs
    >>> from sklearn_hier.taxonomy import Taxonomy
    >>> tax = Taxonomy.from_paths(["a", "b"])
    >>> out = HeadOutputs(torch.zeros(1, 2), {}, torch.zeros(1, 2))
    >>> SoftLabelCrossEntropy(tax, beta=1.0)(torch.zeros(1, 3), out, Targets.from_y(["a"], tax))  # log 2
    tensor(0.6931)
    """

    head = "leaf"

    def __init__(self, taxonomy: Taxonomy, beta: float = 10.0) -> None:
        super().__init__(taxonomy)
        if isinstance(beta, bool) or not isinstance(beta, Real) or not 0 <= beta < math.inf:
            raise ValueError(f"beta must be a finite number >= 0; got {beta!r}.")
        self.beta = float(beta)
        leaves = list(taxonomy.leaves)
        distance = taxonomy.tree_distance_matrix(leaves, leaves).astype(np.float64)
        distance /= max(distance.max(), 1.0)
        soft = torch.softmax(torch.tensor(-self.beta * distance), dim=1).float()
        self.register_buffer("soft_targets", soft, persistent=False)

    def forward(
        self,
        embeddings: torch.Tensor,
        outputs: Any,
        targets: Targets,
        triplets: Triplets | None = None,
        *,
        weighted: bool | None = None,
    ) -> torch.Tensor:
        soft = self.soft_targets.to(outputs.leaf.device)[targets.leaf]
        return -(soft * F.log_softmax(outputs.leaf, dim=1)).sum(dim=1).mean()
