"""The loss terms: one :class:`LossTerm` subclass per term, each declaring what it reads and trains.

The examples below use this module's own names (``torch``, ``Taxonomy``, ``Targets``).

A term is an object whose options are its constructor arguments
(``TripletMarginLoss(margin=0.2)``). It knows nothing of a fit until it is
bound to one (:meth:`LossTerm.bind`): the estimator binds a fresh copy of each
term to the fit's taxonomy, embedding width and distance when it builds the
criterion, so a term can never train against another fit's leaves. A bound
term is a module called as ``term(embeddings, outputs, targets, triplets)``
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
from dataclasses import dataclass, field
from numbers import Real
from typing import Any, ClassVar, NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from sklearn_hier.nn.distances import Cosine, Distance
from sklearn_hier.nn.heads import level_depths
from sklearn_hier.nn.params import HyperParameters
from sklearn_hier.nn.targets import LabelSetTable, Targets, Triplets
from sklearn_hier.taxonomy import Taxonomy

__all__ = [
    "HierarchicalCrossEntropy",
    "LeafCrossEntropy",
    "LossBatch",
    "LossTerm",
    "NodeBinaryCrossEntropy",
    "PerLevelCrossEntropy",
    "SoftLabelCrossEntropy",
    "TermContext",
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


def _check_nonnegative(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, Real) or not 0 <= value < math.inf:
        raise ValueError(f"{name} must be a finite number >= 0; got {value!r}.")


def _as_weight(values: np.ndarray) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.float32)


def _positive_weight(code_counts: np.ndarray, rows: np.ndarray) -> torch.Tensor:
    """``pos_weight = (total - count) / count`` per column of ``rows`` (1 for a column that never occurs).

    ``count`` is how often a column is 1 among the sampled clips, whose
    codes occur ``code_counts`` times: the reference code's weights for "B".
    """
    code_counts = np.asarray(code_counts, dtype=np.float64)
    counts = code_counts @ rows.astype(np.float64)
    pos_weight = np.ones(len(counts))
    seen = counts > 0
    pos_weight[seen] = (code_counts.sum() - counts[seen]) / counts[seen]
    return _as_weight(pos_weight)


def _binary_cross_entropy(logits: torch.Tensor, target: torch.Tensor, pos_weight: torch.Tensor | None) -> torch.Tensor:
    """Mean binary cross-entropy over samples and columns, ``pos_weight`` (if any) on the logits' device."""
    if pos_weight is not None:
        pos_weight = pos_weight.to(logits.device, logits.dtype)
    return F.binary_cross_entropy_with_logits(logits, target, pos_weight=pos_weight)


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


# ------------------------------------------------------------ fit context, batch
@dataclass(frozen=True)
class TermContext:
    """What a term is bound to: the fit's taxonomy, embedding width and distance.

    Attributes
    ----------
    taxonomy : Taxonomy
        The taxonomy of the training labels; with one leaf per sample, leaf
        code ``i`` is ``taxonomy.leaves[i]``.
    embedding_dim : int or None
        Width of the embeddings (``None`` when the term is used outside a fit
        and the width is not known).
    distance : Distance
        The fit's distance (:class:`~sklearn_hier.nn.distances.Cosine` by default).
    label_sets : LabelSetTable or None
        For a fit on label sets, its distinct sets (code ``i`` is
        ``label_sets.sets[i]``) and classes; None for one leaf per sample.
    """

    taxonomy: Taxonomy
    embedding_dim: int | None = None
    distance: Distance = field(default_factory=Cosine)
    label_sets: LabelSetTable | None = None

    @property
    def multilabel(self) -> bool:
        """Whether the fit trains on label sets."""
        return self.label_sets is not None

    def code_multi_hot(self) -> np.ndarray:
        """(n_codes, n_nodes - 1): each code's path multi-hot (a leaf) or ancestor closure (a label set)."""
        if self.label_sets is None:
            return self.taxonomy.path_multi_hot(list(self.taxonomy.leaves))
        return self.taxonomy.closure_multi_hot(list(self.label_sets.sets))

    @property
    def level_depths(self) -> tuple[int, ...]:
        """The depths with a level head (:func:`~sklearn_hier.nn.heads.level_depths`): every one on label sets."""
        return level_depths(self.taxonomy, multilabel=self.multilabel)

    def level_columns(self, depth: int) -> slice:
        """The columns of :meth:`code_multi_hot` (``taxonomy.nodes[1:]``) that hold the nodes at ``depth``."""
        start = sum(len(self.taxonomy.levels[d]) for d in range(1, depth))
        return slice(start, start + len(self.taxonomy.levels[depth]))


class LossBatch(NamedTuple):
    """One batch as a term's :meth:`LossTerm.compute` reads it.

    Attributes
    ----------
    embeddings : Tensor of shape (B, D)
    outputs : HeadOutputs
        Logits of :class:`~sklearn_hier.nn.heads.HierarchicalHeads`.
    targets : Targets
    triplets : tuple of three LongTensors of shape (k,) or None
        Anchor, positive and negative indices into the batch.
    weighted : bool
        Whether to apply the class weights set by :meth:`LossTerm.set_class_weights`.
    """

    embeddings: torch.Tensor
    outputs: Any
    targets: Targets
    triplets: Triplets | None
    weighted: bool


# ------------------------------------------------------------------- the terms
class LossTerm(HyperParameters, nn.Module):
    """Base class of the loss terms: options in the constructor, bound to a fit, one scalar per batch.

    A subclass takes its options as constructor arguments and stores each
    under its own name (``get_params`` / ``set_params`` read them, so the
    estimator reaches them as ``criterion__<NAME>__<option>``), builds what
    depends on the fit in :meth:`setup` (tables from the taxonomy, parameters
    sized by the embedding width) and computes the loss of a batch in
    :meth:`compute`. Terms with class weights also override
    :meth:`set_class_weights`. Pass an instance in the estimator's
    ``losses``: ``losses={"PL": 1.0, "MR": MarginRanking(margin=0.2)}``. It
    must be picklable (defined in a module, not a notebook cell, for
    process-parallel cross-validation).

    Attributes
    ----------
    uses_triplets : bool
        Whether the term reads triplets (such terms are left out of the
        paper's validation loss). Declared by the class.
    head : {"leaf", "levels", "nodes"} or None
        The head of :class:`~sklearn_hier.nn.heads.HierarchicalHeads` the term
        trains (``None``: none, only the embeddings). Declared by the class;
        the estimator predicts with a trained head.
    trains_on_label_sets : bool
        Whether the term can train on label sets (multi-label ``y``), where a
        batch's targets hold ``multi_hot`` (the ancestor closures) and
        ``labels`` (the label multi-hots over the classes) but no level codes
        (:class:`~sklearn_hier.nn.targets.Targets`). Declared by the class;
        the estimator refuses label sets for a term that does not declare it.
    context : TermContext or None
        What :meth:`bind` bound this copy to; ``None`` for an unbound term.

    Examples
    --------
    >>> class EmbeddingNorm(LossTerm):
    ...     def __init__(self, scale=1.0):
    ...         super().__init__()
    ...         self.scale = scale
    ...     def compute(self, batch):
    ...         return self.scale * batch.embeddings.norm(dim=1).mean()
    >>> term = EmbeddingNorm(scale=0.5).bind(Taxonomy.from_paths(["a", "b"]))
    >>> term(torch.ones(2, 4), None, None)
    tensor(1.)
    """

    uses_triplets: ClassVar[bool] = False
    head: ClassVar[str | None] = None
    trains_on_label_sets: ClassVar[bool] = False

    def __init__(self) -> None:
        nn.Module.__init__(self)
        self.context: TermContext | None = None

    def bind(
        self,
        taxonomy: Taxonomy | TermContext,
        *,
        embedding_dim: int | None = None,
        distance: Distance | None = None,
        label_sets: LabelSetTable | None = None,
    ) -> LossTerm:
        """A fresh copy of this term (same options) bound to a fit; this term is left as it is.

        Parameters
        ----------
        taxonomy : Taxonomy or TermContext
        embedding_dim : int, optional
        distance : Distance, optional
            :class:`~sklearn_hier.nn.distances.Cosine` when not given.
        label_sets : LabelSetTable, optional
            The distinct label sets of a fit on label sets.

        Returns
        -------
        term : LossTerm
        """
        if isinstance(taxonomy, TermContext):
            context = taxonomy
        else:
            if not isinstance(taxonomy, Taxonomy):
                raise TypeError(f"taxonomy must be a Taxonomy; got {type(taxonomy).__name__}.")
            context = TermContext(taxonomy, embedding_dim, Cosine() if distance is None else distance, label_sets)
        if context.multilabel and not self.trains_on_label_sets:
            raise ValueError(
                f"{type(self).__name__} does not train on label sets (multi-label y): it reads one leaf per "
                "sample. Terms that do: L, PL, B and T; a term of your own declares trains_on_label_sets = True "
                "and reads targets.multi_hot (closures) and targets.labels (labels)."
            )
        term = self.clone()
        term.context = context
        term.setup(context)
        return term

    def setup(self, context: TermContext) -> None:
        """Build what depends on the fit (called by :meth:`bind` on the new copy); nothing by default."""

    @property
    def taxonomy(self) -> Taxonomy:
        """The bound fit's taxonomy."""
        return self._context().taxonomy

    @property
    def distance(self) -> Distance:
        """The bound fit's distance."""
        return self._context().distance

    def _context(self) -> TermContext:
        if self.context is None:
            raise RuntimeError(
                f"{type(self).__name__} is not bound to a fit: call term.bind(taxonomy) first (the estimator "
                "binds a copy of each term at fit)."
            )
        return self.context

    def forward(
        self,
        embeddings: torch.Tensor,
        outputs: Any,
        targets: Targets,
        triplets: Triplets | None = None,
        *,
        weighted: bool | None = None,
    ) -> torch.Tensor:
        """Scalar loss of one batch (:meth:`compute` on the batch).

        Parameters
        ----------
        embeddings : Tensor of shape (B, D)
        outputs : HeadOutputs
        targets : Targets
        triplets : tuple of three LongTensors of shape (k,), optional
        weighted : bool, optional
            Whether to apply the class weights; ``None`` applies them in
            training mode only.
        """
        self._context()
        weighted = self.training if weighted is None else bool(weighted)
        return self.compute(LossBatch(embeddings, outputs, targets, triplets, weighted))

    def compute(self, batch: LossBatch) -> torch.Tensor:
        """Scalar loss of ``batch``; what a subclass implements."""
        raise NotImplementedError

    def set_class_weights(self, leaf_counts: np.ndarray | None) -> None:
        """Derive class weights from how often each code (leaf, or label set) occurs; ``None`` turns them off.

        The base class has no class weights and ignores the counts.
        """

    def __repr__(self) -> str:
        return HyperParameters.__repr__(self)


class LeafCrossEntropy(LossTerm):
    """ "L": cross-entropy of the leaf head against the leaf label.

    Class weights (reference code): inverse leaf frequency, normalised to sum 1.

    On label sets the leaf head has one column per class, and "L" is the
    binary cross-entropy of each column against whether the class is one of
    the sample's labels (independent sigmoids, mean over samples and
    classes), with ``pos_weight = (total - count) / count`` per class as the
    class weights, as "B" has them per node.

    Examples
    --------
    >>> from sklearn_hier.nn.heads import HeadOutputs
    >>> tax = Taxonomy.from_paths(["a", "b"])
    >>> out = HeadOutputs(torch.zeros(1, 2), {}, torch.zeros(1, 2))
    >>> LeafCrossEntropy().bind(tax)(torch.zeros(1, 3), out, Targets.from_y(["a"], tax))  # log 2
    tensor(0.6931)
    """

    head = "leaf"
    trains_on_label_sets = True

    def setup(self, context: TermContext) -> None:
        self.class_weight: torch.Tensor | None = None

    def set_class_weights(self, leaf_counts: np.ndarray | None) -> None:
        """Inverse leaf frequency, normalised (label sets: ``pos_weight`` per class); ``None`` turns them off."""
        if leaf_counts is None:
            self.class_weight = None
        elif self.context.multilabel:
            self.class_weight = _positive_weight(leaf_counts, self.context.label_sets.indicator())
        else:
            self.class_weight = _as_weight(_inverse_frequency(leaf_counts))

    def compute(self, batch: LossBatch) -> torch.Tensor:
        weight = self.class_weight if batch.weighted else None
        if batch.targets.labels is not None:
            return _binary_cross_entropy(batch.outputs.leaf, batch.targets.labels, weight)
        return _cross_entropy(batch.outputs.leaf, batch.targets.leaf, weight)


class PerLevelCrossEntropy(LossTerm):
    """ "PL": cross-entropy of each level head against the ancestor at that level.

    Levels holding a single node are skipped; a sample whose path ends above a
    level is ignored at that level.

    On label sets a sample may hold several nodes of one level (and, on a
    DAG, a node's level is its depth, the longest path from the root), so
    each level head, a level of one node included, is trained as
    independent sigmoids: the binary
    cross-entropy of its columns against the sample's ancestor closure at
    that level (mean over samples and the level's nodes), with
    ``pos_weight`` per node as class weights. A sample with no node at a
    level has all-zero targets there: it teaches the head that the level is
    absent, which is what the closure says.

    Parameters
    ----------
    reduction : {"sum", "mean"}, default="sum"
        How the per-level values combine; the reference code sums them.

    Examples
    --------
    >>> from sklearn_hier.nn.heads import HeadOutputs
    >>> tax = Taxonomy.from_paths(["a/x", "a/y", "b/z"])
    >>> out = HeadOutputs(torch.zeros(1, 3), {1: torch.zeros(1, 2), 2: torch.zeros(1, 3)}, torch.zeros(1, 5))
    >>> PerLevelCrossEntropy().bind(tax)(torch.zeros(1, 4), out, Targets.from_y(["a/x"], tax))  # log 2 + log 3
    tensor(1.7918)
    """

    head = "levels"
    trains_on_label_sets = True

    def __init__(self, reduction: str = "sum") -> None:
        super().__init__()
        if reduction not in ("sum", "mean"):
            raise ValueError(f"reduction must be 'sum' or 'mean'; got {reduction!r}.")
        self.reduction = reduction

    def setup(self, context: TermContext) -> None:
        self.class_weight: dict[int, torch.Tensor] | None = None

    def set_class_weights(self, leaf_counts: np.ndarray | None) -> None:
        """Inverse frequency of each level's nodes (leaf counts summed up the tree), normalised per level.

        On label sets: ``pos_weight`` of each level's nodes, from the closures.
        """
        if leaf_counts is None:
            self.class_weight = None
            return
        context = self.context
        if context.multilabel:
            rows = context.code_multi_hot()
            self.class_weight = {
                d: _positive_weight(leaf_counts, rows[:, context.level_columns(d)]) for d in context.level_depths
            }
            return
        self.class_weight = {
            d: _as_weight(_inverse_frequency(_level_counts(self.taxonomy, leaf_counts, d)))
            for d in self.taxonomy.informative_levels
        }

    def compute(self, batch: LossBatch) -> torch.Tensor:
        weights = self.class_weight if batch.weighted else None
        outputs, targets = batch.outputs, batch.targets
        if targets.levels is None:  # label sets: independent sigmoids on each level's part of the closure
            values = [
                _binary_cross_entropy(
                    outputs.levels[d],
                    targets.multi_hot[:, self.context.level_columns(d)],
                    None if weights is None else weights[d],
                )
                for d in self.context.level_depths
            ]
        else:
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

    On label sets the target is the ancestor closure of the sample's labels
    (:meth:`~sklearn_hier.taxonomy.Taxonomy.closure_multi_hot`): every node
    above any of its labels, on any path of a DAG. With one leaf per sample
    on a tree that is the path multi-hot, so the term is the same.

    Examples
    --------
    >>> from sklearn_hier.nn.heads import HeadOutputs
    >>> tax = Taxonomy.from_paths(["a", "b"])
    >>> out = HeadOutputs(torch.zeros(1, 2), {}, torch.zeros(1, 2))
    >>> NodeBinaryCrossEntropy().bind(tax)(torch.zeros(1, 3), out, Targets.from_y(["a"], tax))  # log 2
    tensor(0.6931)
    """

    head = "nodes"
    trains_on_label_sets = True

    def setup(self, context: TermContext) -> None:
        self.pos_weight: torch.Tensor | None = None

    def set_class_weights(self, leaf_counts: np.ndarray | None) -> None:
        """``pos_weight = (total - count) / count`` per node (1 for a node that never occurs)."""
        self.pos_weight = None if leaf_counts is None else _positive_weight(leaf_counts, self.context.code_multi_hot())

    def compute(self, batch: LossBatch) -> torch.Tensor:
        pos_weight = self.pos_weight if batch.weighted else None
        return _binary_cross_entropy(batch.outputs.nodes, batch.targets.multi_hot, pos_weight)


class TripletMarginLoss(LossTerm):
    """ "T": mean over triplets of ``max(0, margin - s(a, p) + s(a, n))``.

    ``s`` is the similarity of the fit's distance (:attr:`LossTerm.distance`:
    cosine by default; the negated distance for
    :class:`~sklearn_hier.nn.distances.Euclidean` and
    :class:`~sklearn_hier.nn.distances.Poincare`, so the formula then reads
    ``max(0, margin + d(a, p) - d(a, n))``). No triplet gives 0 (never NaN).
    The estimator's online miner mines for this term: its margin and distance.
    On label sets the triplets come from the miner, which calls a triplet
    valid when the anchor's ancestor closure shares more nodes with the
    positive's than with the negative's (:meth:`~sklearn_hier.nn.targets.Targets.shared`).

    Parameters
    ----------
    margin : float, default=0.3

    Examples
    --------
    >>> term = TripletMarginLoss(margin=0.3).bind(Taxonomy.from_paths(["a", "b"]))
    >>> z = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]])
    >>> term(z, None, None, (torch.tensor([0]), torch.tensor([1]), torch.tensor([2])))  # 0.3 - 0 + 1
    tensor(1.3000)
    """

    uses_triplets = True
    trains_on_label_sets = True

    def __init__(self, margin: float = 0.3) -> None:
        super().__init__()
        _check_nonnegative("margin", margin)
        self.margin = margin

    def compute(self, batch: LossBatch) -> torch.Tensor:
        if batch.triplets is None:
            raise ValueError("The triplet term 'T' needs triplets=(anchors, positives, negatives); got None.")
        anchors, positives, negatives = batch.triplets
        if not anchors.shape == positives.shape == negatives.shape or anchors.ndim != 1:
            raise ValueError(
                "triplets must be three 1-D index tensors of one length; got shapes "
                f"{tuple(anchors.shape)}, {tuple(positives.shape)}, {tuple(negatives.shape)}."
            )
        if anchors.numel() == 0:
            return batch.embeddings.sum() * 0.0  # keeps the graph, so backward() still works
        sim = self.similarity(batch.embeddings)
        return F.relu(self.margin - sim[anchors, positives] + sim[anchors, negatives]).mean()

    def similarity(self, embeddings: torch.Tensor) -> torch.Tensor:
        """(B, B) similarities of the batch's embeddings under the fit's distance."""
        return self.distance.similarity(embeddings, embeddings)


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
    alpha : float, default=0.1
        Decay of the edge weights with height (>= 0).

    Examples
    --------
    >>> from sklearn_hier.nn.heads import HeadOutputs
    >>> tax = Taxonomy.from_paths(["a/x", "a/y", "b/z", "b/w"])
    >>> out = HeadOutputs(torch.zeros(1, 4), {}, torch.zeros(1, 6))
    >>> # P(a) = 1/2, P(a/x | a) = 1/2: exp(-alpha) * log 2 + log 2
    >>> HierarchicalCrossEntropy(alpha=0.0).bind(tax)(torch.zeros(1, 2), out, Targets.from_y(["a/x"], tax))
    tensor(1.3863)
    """

    head = "leaf"

    def __init__(self, alpha: float = 0.1) -> None:
        super().__init__()
        _check_nonnegative("alpha", alpha)
        self.alpha = alpha

    def setup(self, context: TermContext) -> None:
        levels = torch.tensor(np.array(context.taxonomy.leaf_level_codes()))
        self.register_buffer("leaf_levels", levels, persistent=False)

    def compute(self, batch: LossBatch) -> torch.Tensor:
        targets = batch.targets
        log_p = F.log_softmax(batch.outputs.leaf, dim=1)
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
            edge_weight = torch.exp(-float(self.alpha) * (path_length - depth).clamp_min(0)) * on_path
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
    beta : float, default=10.0
        Sharpness (>= 0); large values approach the leaf cross-entropy, 0 gives
        uniform targets.

    Examples
    --------
    >>> from sklearn_hier.nn.heads import HeadOutputs
    >>> tax = Taxonomy.from_paths(["a", "b"])
    >>> out = HeadOutputs(torch.zeros(1, 2), {}, torch.zeros(1, 2))
    >>> SoftLabelCrossEntropy(beta=1.0).bind(tax)(torch.zeros(1, 3), out, Targets.from_y(["a"], tax))  # log 2
    tensor(0.6931)
    """

    head = "leaf"

    def __init__(self, beta: float = 10.0) -> None:
        super().__init__()
        _check_nonnegative("beta", beta)
        self.beta = beta

    def setup(self, context: TermContext) -> None:
        leaves = list(context.taxonomy.leaves)
        distance = context.taxonomy.tree_distance_matrix(leaves, leaves).astype(np.float64)
        distance /= max(distance.max(), 1.0)
        soft = torch.softmax(torch.tensor(-float(self.beta) * distance), dim=1).float()
        self.register_buffer("soft_targets", soft, persistent=False)

    def compute(self, batch: LossBatch) -> torch.Tensor:
        leaf = batch.outputs.leaf
        soft = self.soft_targets.to(leaf.device)[batch.targets.leaf]
        return -(soft * F.log_softmax(leaf, dim=1)).sum(dim=1).mean()
