"""Loss terms on embeddings and head outputs, their registry, and the ``"PL+0.5*T"`` grammar.

Every term is a :class:`LossTerm`: a module called as
``term(embeddings, outputs, targets, triplets)`` that returns a scalar. The
terms of the paper are "L" (leaf cross-entropy), "PL" (per-level
cross-entropy), "B" (binary cross-entropy on every node but the root) and "T"
(triplet margin loss); "HXE" (hierarchical cross-entropy) and "SOFT" (soft
labels from tree distance) come from Bertinetto et al., "Making Better
Mistakes", CVPR 2020. :class:`HierarchicalLoss` sums weighted terms named by a
spec such as ``"PL+0.5*T"``.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Mapping
from numbers import Real
from typing import Any, ClassVar, NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from sklearn_hier.nn.distances import SIMILARITIES, pairwise_similarity
from sklearn_hier.taxonomy import Taxonomy

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
    "loss_term_names",
    "parse_losses",
    "register_loss_term",
]

Triplets = tuple[torch.Tensor, torch.Tensor, torch.Tensor]


# --------------------------------------------------------------------- targets
@functools.lru_cache(maxsize=16)
def _leaf_tables(taxonomy: Taxonomy, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    # Built once per (taxonomy, device) so that a training step only gathers rows.
    levels = torch.tensor(np.array(taxonomy.leaf_level_codes()), dtype=torch.long, device=device)
    hot = torch.tensor(taxonomy.path_multi_hot(list(taxonomy.leaves)), device=device)
    return levels, hot


class Targets(NamedTuple):
    """Every target a loss term may need, for one batch.

    Attributes
    ----------
    leaf : LongTensor of shape (B,)
        Leaf codes (:meth:`Taxonomy.encode`).
    levels : LongTensor of shape (B, taxonomy.depth)
        Level codes (:meth:`Taxonomy.level_codes`); -1 past a path's end,
        where the per-level terms ignore the sample.
    multi_hot : FloatTensor of shape (B, taxonomy.n_nodes - 1)
        Path multi-hot vectors (:meth:`Taxonomy.path_multi_hot`).

    Examples
    --------
    >>> import torch
    >>> from sklearn_hier.taxonomy import Taxonomy
    >>> tax = Taxonomy.from_paths(["a/x", "a/y", "b"])
    >>> t = Targets.from_codes(torch.tensor([2, 0]), tax)
    >>> t.levels
    tensor([[ 1, -1],
            [ 0,  0]])
    >>> t.multi_hot
    tensor([[0., 1., 0., 0.],
            [1., 0., 1., 0.]])
    """

    leaf: torch.Tensor
    levels: torch.Tensor
    multi_hot: torch.Tensor

    @classmethod
    def from_codes(cls, leaf_codes: torch.Tensor, taxonomy: Taxonomy) -> Targets:
        """Build all targets from leaf codes, on the leaf codes' device.

        Parameters
        ----------
        leaf_codes : LongTensor of shape (B,)
            Indices into ``taxonomy.leaves``.
        taxonomy : Taxonomy

        Returns
        -------
        targets : Targets

        Examples
        --------
        >>> import torch
        >>> from sklearn_hier.taxonomy import Taxonomy
        >>> Targets.from_codes(torch.tensor([1]), Taxonomy.from_paths(["a", "b"])).multi_hot
        tensor([[0., 1.]])
        """
        codes = torch.as_tensor(leaf_codes)
        if codes.ndim != 1 or codes.dtype.is_floating_point or codes.dtype == torch.bool:
            raise ValueError(f"leaf_codes must be a 1-D integer tensor; got shape {tuple(codes.shape)}, {codes.dtype}.")
        codes = codes.long()
        # The range check reads values back to the host; on an accelerator that would stall
        # every training step, and an out-of-range index fails in the gather below anyway.
        on_host = codes.device.type == "cpu"
        if codes.numel() and on_host and (int(codes.min()) < 0 or int(codes.max()) >= taxonomy.n_leaves):
            raise ValueError(
                f"leaf_codes must lie in [0, {taxonomy.n_leaves}) for a taxonomy of {taxonomy.n_leaves} leaves; "
                f"got values in [{int(codes.min())}, {int(codes.max())}]."
            )
        levels, hot = _leaf_tables(taxonomy, codes.device)
        return cls(codes, levels[codes], hot[codes])

    @classmethod
    def from_y(cls, y: Any, taxonomy: Taxonomy, device: torch.device | str | None = None) -> Targets:
        """Build all targets from labels (any form :meth:`Taxonomy.encode` accepts).

        Examples
        --------
        >>> from sklearn_hier.taxonomy import Taxonomy
        >>> Targets.from_y(["b", "a"], Taxonomy.from_paths(["a", "b"])).leaf
        tensor([1, 0])
        """
        return cls.from_codes(torch.as_tensor(taxonomy.encode(y), device=device), taxonomy)


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
        the paper's validation loss).

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
    ``distance="euclidean"`` it is the negated distance, so the formula reads
    ``max(0, margin + d(a, p) - d(a, n))``. No triplet gives 0 (never NaN).

    Parameters
    ----------
    taxonomy : Taxonomy
    margin : float, default=0.3
    distance : {"cosine", "dot", "euclidean"}, default="cosine"

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

    def __init__(self, taxonomy: Taxonomy, margin: float = 0.3, distance: str = "cosine") -> None:
        super().__init__(taxonomy)
        if isinstance(margin, bool) or not isinstance(margin, Real) or not margin >= 0 or math.isinf(margin):
            raise ValueError(f"margin must be a finite number >= 0; got {margin!r}.")
        if distance not in SIMILARITIES:
            raise ValueError(f"distance must be one of {SIMILARITIES}; got {distance!r}.")
        self.margin = float(margin)
        self.distance = distance

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
        sim = pairwise_similarity(embeddings, embeddings, self.distance)
        return F.relu(self.margin - sim[anchors, positives] + sim[anchors, negatives]).mean()


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


# -------------------------------------------------------------------- registry
_REGISTRY: dict[str, type[LossTerm]] = {
    "L": LeafCrossEntropy,
    "PL": PerLevelCrossEntropy,
    "B": NodeBinaryCrossEntropy,
    "T": TripletMarginLoss,
    "HXE": HierarchicalCrossEntropy,
    "SOFT": SoftLabelCrossEntropy,
}
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def loss_term_names() -> tuple[str, ...]:
    """Names usable in a loss spec, sorted.

    Examples
    --------
    >>> {"L", "PL", "B", "T", "HXE", "SOFT"} <= set(loss_term_names())
    True
    """
    return tuple(sorted(_REGISTRY))


def register_loss_term(name: str, cls: type[LossTerm], *, overwrite: bool = False) -> None:
    """Make a :class:`LossTerm` subclass usable by name in a loss spec.

    Names are case-insensitive (stored upper-case).

    Parameters
    ----------
    name : str
        A Python identifier such as ``"CENTER"``.
    cls : subclass of LossTerm
        Constructed as ``cls(taxonomy, **options)``.
    overwrite : bool, default=False
        Whether ``name`` may replace a registered term.

    Examples
    --------
    >>> class Zero(LossTerm):
    ...     def forward(self, embeddings, outputs, targets, triplets=None, *, weighted=None):
    ...         return embeddings.sum() * 0.0
    >>> register_loss_term("zero", Zero)
    >>> parse_losses("PL + Zero")
    {'PL': 1.0, 'ZERO': 1.0}
    >>> del _REGISTRY["ZERO"]  # leave the registry as this example found it
    """
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ValueError(f"A loss term name must be an identifier such as 'CENTER'; got {name!r}.")
    if not (isinstance(cls, type) and issubclass(cls, LossTerm)):
        raise TypeError(f"cls must be a subclass of LossTerm; got {cls!r}.")
    key = name.upper()
    if key in _REGISTRY and not overwrite and _REGISTRY[key] is not cls:
        raise ValueError(f"A loss term named {key!r} is already registered; pass overwrite=True to replace it.")
    _REGISTRY[key] = cls


# --------------------------------------------------------------------- grammar
_NUMBER = r"(?:\d+\.?\d*|\.\d+)(?:[eE]-?\d+)?"
_TERM = re.compile(rf"\s*(?:(?P<lead>{_NUMBER})\s*\*\s*)?(?P<name>\w+)(?:\s*\*\s*(?P<trail>{_NUMBER}))?\s*")


def parse_losses(spec: str | Mapping[str, float] | list[str] | tuple[str, ...]) -> dict[str, float]:
    """Read a loss spec into ``{term name: weight}``.

    Parameters
    ----------
    spec : str, dict or list of str
        ``"PL+T"``, ``"l + 0.5*T"`` (a weight may also follow: ``"T*0.5"``),
        ``{"PL": 1, "T": 0.5}`` or ``["PL", "T"]`` (weight 1 each). Names are
        case-insensitive; weights are finite numbers >= 0.

    Returns
    -------
    weights : dict of str to float
        Upper-case names in the order given.

    Raises
    ------
    ValueError
        On an unknown name (the message lists the valid ones), a name given
        twice, a bad weight or a spec that does not parse.
    TypeError
        If ``spec`` is of another type.

    Examples
    --------
    >>> parse_losses("l + 0.5*T")
    {'L': 1.0, 'T': 0.5}
    >>> parse_losses(["PL", "t"]) == parse_losses({"PL": 1, "T": 1}) == parse_losses("PL+T")
    True
    """
    if isinstance(spec, str):
        pairs = [_parse_term(part, spec) for part in spec.split("+")]
    elif isinstance(spec, Mapping):
        pairs = list(spec.items())
    elif isinstance(spec, (list, tuple)):
        pairs = [(name, 1.0) for name in spec]
    else:
        raise TypeError(f"losses must be a str, a dict or a list of term names; got {type(spec).__name__}.")
    if not pairs:
        valid = ", ".join(loss_term_names())
        raise ValueError(f"losses must name at least one term; got {spec!r}. Valid names: {valid}.")
    weights: dict[str, float] = {}
    for name, weight in pairs:
        key = _check_name_and_weight(name, weight, spec)
        if key in weights:
            raise ValueError(f"Loss term {key!r} appears twice in losses={spec!r}.")
        weights[key] = float(weight)
    return weights


def _parse_term(part: str, spec: str) -> tuple[str, float]:
    match = _TERM.fullmatch(part)
    if match is None or (match["lead"] and match["trail"]):
        raise ValueError(
            f"Cannot parse {part.strip()!r} in losses={spec!r}: expected NAME or WEIGHT*NAME joined by '+'."
        )
    return match["name"], float(match["lead"] or match["trail"] or 1.0)


def _check_name_and_weight(name: Any, weight: Any, spec: Any) -> str:
    if not isinstance(name, str):
        raise TypeError(f"Loss term names must be str; got {name!r} in losses={spec!r}.")
    key = name.upper()
    if key not in _REGISTRY:
        raise ValueError(f"Unknown loss term {name!r} in losses={spec!r}; valid names: {', '.join(loss_term_names())}.")
    if isinstance(weight, bool) or not isinstance(weight, Real) or not 0 <= weight < math.inf:
        raise ValueError(f"The weight of loss term {key!r} must be a finite number >= 0; got {weight!r}.")
    return key


# ------------------------------------------------------------------ the sum
class HierarchicalLoss(nn.Module):
    """Weighted sum of loss terms named by a spec such as ``"PL+0.5*T"``.

    Parameters
    ----------
    spec : str, dict or list of str
        See :func:`parse_losses`.
    taxonomy : Taxonomy
    margin : float, default=0.3
        Margin of "T".
    triplet_distance : {"cosine", "dot", "euclidean"}, default="cosine"
        Similarity of "T".
    level_reduction : {"sum", "mean"}, default="sum"
        How "PL" combines its levels (the reference code sums).
    hxe_alpha : float, default=0.1
        ``alpha`` of "HXE".
    soft_beta : float, default=10.0
        ``beta`` of "SOFT".
    term_options : dict of str to dict, optional
        Extra constructor keywords per term name, e.g. for a registered term.

    Attributes
    ----------
    weights : dict of str to float
        The parsed spec.
    terms : torch.nn.ModuleDict
        The :class:`LossTerm` of each name.
    uses_triplets : bool
        Whether some term reads triplets.

    Examples
    --------
    >>> import torch
    >>> from sklearn_hier.nn.heads import HierarchicalHeads
    >>> from sklearn_hier.taxonomy import Taxonomy
    >>> tax = Taxonomy.from_paths(["a/x", "a/y", "b/z"])
    >>> loss = HierarchicalLoss("PL + 0.5*T", tax)
    >>> z = torch.randn(3, 4, generator=torch.Generator().manual_seed(0))
    >>> targets = Targets.from_y(["a/x", "a/y", "b/z"], tax)
    >>> total, parts = loss(z, HierarchicalHeads(tax, 4)(z), targets, tuple(torch.tensor([i]) for i in range(3)))
    >>> sorted(parts), loss.uses_triplets
    (['PL', 'T'], True)
    >>> bool(torch.isclose(total, parts["PL"] + 0.5 * parts["T"]))
    True
    """

    def __init__(
        self,
        spec: str | Mapping[str, float] | list[str],
        taxonomy: Taxonomy,
        *,
        margin: float = 0.3,
        triplet_distance: str = "cosine",
        level_reduction: str = "sum",
        hxe_alpha: float = 0.1,
        soft_beta: float = 10.0,
        term_options: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> None:
        super().__init__()
        if not isinstance(taxonomy, Taxonomy):
            raise TypeError(f"taxonomy must be a Taxonomy; got {type(taxonomy).__name__}.")
        self.spec = spec
        self.taxonomy = taxonomy
        self.weights = parse_losses(spec)
        options: dict[str, dict[str, Any]] = {
            "T": {"margin": margin, "distance": triplet_distance},
            "PL": {"reduction": level_reduction},
            "HXE": {"alpha": hxe_alpha},
            "SOFT": {"beta": soft_beta},
        }
        for name, extra in (term_options or {}).items():
            options.setdefault(name.upper(), {}).update(extra)
        self.terms = nn.ModuleDict({name: _REGISTRY[name](taxonomy, **options.get(name, {})) for name in self.weights})
        self.uses_triplets = any(term.uses_triplets for term in self.terms.values())

    def forward(
        self,
        embeddings: torch.Tensor,
        outputs: Any,
        targets: Targets,
        triplets: Triplets | None = None,
        *,
        include_triplet: bool = True,
        weighted: bool | None = None,
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Total weighted loss and the unweighted value of each term computed.

        Parameters
        ----------
        embeddings : Tensor of shape (B, D)
        outputs : HeadOutputs
        targets : Targets
        triplets : tuple of three LongTensors, optional
            Needed when a triplet term is included.
        include_triplet : bool, default=True
            ``False`` leaves the triplet terms out (the paper's validation loss).
        weighted : bool, optional
            Apply the class weights; ``None`` applies them in training mode only.

        Returns
        -------
        total : scalar Tensor
        parts : dict of str to scalar Tensor
        """
        total = embeddings.new_zeros(())
        parts: dict[str, torch.Tensor] = {}
        for name, term in self.terms.items():
            if term.uses_triplets and not include_triplet:
                continue
            parts[name] = term(embeddings, outputs, targets, triplets, weighted=weighted)
            total = total + self.weights[name] * parts[name]
        return total, parts

    def set_class_weights(self, leaf_counts: np.ndarray | None) -> None:
        """Set every term's class weights from per-leaf counts; ``None`` turns them off.

        Parameters
        ----------
        leaf_counts : ndarray of shape (taxonomy.n_leaves,) or None
            How often each leaf occurs in this epoch's sampled clips (see
            :meth:`~sklearn_hier.nn.sampling.TreeTripletSampler.leaf_counts`).

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn_hier.taxonomy import Taxonomy
        >>> loss = HierarchicalLoss("L", Taxonomy.from_paths(["a", "b"]))
        >>> loss.set_class_weights(np.array([1, 3]))
        >>> loss.terms["L"].class_weight
        tensor([0.7500, 0.2500])
        """
        if leaf_counts is not None:
            leaf_counts = np.array(leaf_counts, dtype=np.float64)
            n_leaves = self.taxonomy.n_leaves
            if leaf_counts.shape != (n_leaves,):
                raise ValueError(f"leaf_counts must have shape ({n_leaves},); got {leaf_counts.shape}.")
            if not np.all(np.isfinite(leaf_counts)) or np.any(leaf_counts < 0):
                raise ValueError("leaf_counts must be finite and >= 0.")
        for term in self.terms.values():
            term.set_class_weights(leaf_counts)
