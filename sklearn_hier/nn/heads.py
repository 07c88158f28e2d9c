"""Classification heads built from a :class:`~sklearn_hier.taxonomy.Taxonomy`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from sklearn_hier.taxonomy import Taxonomy

__all__ = [
    "HEAD_NAMES",
    "LEAF_ROUTES",
    "HeadOutputs",
    "HierarchicalHeads",
    "class_probabilities",
    "leaf_log_scores",
    "level_depths",
]

HEAD_NAMES = ("leaf", "levels", "nodes")
# The ways from the heads to a leaf (leaf_log_scores), each with the head it reads.
LEAF_ROUTES = {"leaf": "leaf", "deepest_level": "levels", "level_product": "levels", "nodes": "nodes"}


@dataclass(frozen=True)
class HeadOutputs:
    """Logits of the three kinds of head, for one batch.

    Not a tuple, so that skorch can handle it as it handles a tensor: its
    ``to_device`` calls :meth:`to`, and its ``forward`` joins the batches with
    ``torch.cat``, which :meth:`__torch_function__` answers field by field.

    Attributes
    ----------
    leaf : Tensor of shape (B, taxonomy.n_leaves) or (B, n_classes)
        Columns follow ``taxonomy.leaves`` (one leaf per sample), or the
        classes of a fit on label sets.
    levels : dict of int to Tensor
        ``levels[d]`` has shape (B, len(taxonomy.levels[d])), columns following
        ``taxonomy.levels[d]``, for each ``d`` in ``taxonomy.informative_levels``.
    nodes : Tensor of shape (B, taxonomy.n_nodes - 1)
        One logit per node but the root; columns follow ``taxonomy.nodes[1:]``.

    Examples
    --------
    >>> import torch
    >>> out = HeadOutputs(torch.zeros(2, 3), {1: torch.zeros(2, 2)}, torch.zeros(2, 5))
    >>> out.leaf.shape, sorted(out.levels)
    (torch.Size([2, 3]), [1])
    """

    leaf: torch.Tensor
    levels: dict[int, torch.Tensor]
    nodes: torch.Tensor

    def to(self, *args: Any, **kwargs: Any) -> HeadOutputs:
        """Every logit tensor moved or cast like :meth:`torch.Tensor.to`."""
        levels = {d: t.to(*args, **kwargs) for d, t in self.levels.items()}
        return HeadOutputs(self.leaf.to(*args, **kwargs), levels, self.nodes.to(*args, **kwargs))

    @classmethod
    def __torch_function__(cls, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        if func is not torch.cat:
            return NotImplemented
        parts, dim = args[0], (kwargs or {}).get("dim", args[1] if len(args) > 1 else 0)
        if dim != 0 or not all(isinstance(p, HeadOutputs) for p in parts):
            return NotImplemented
        levels = {d: torch.cat([p.levels[d] for p in parts]) for d in parts[0].levels}
        return HeadOutputs(torch.cat([p.leaf for p in parts]), levels, torch.cat([p.nodes for p in parts]))

    def __getitem__(self, rows: Any) -> HeadOutputs:
        """The logits of the samples at ``rows``."""
        return HeadOutputs(self.leaf[rows], {d: t[rows] for d, t in self.levels.items()}, self.nodes[rows])


class HierarchicalHeads(nn.Module):
    """One linear head per task: the leaf, each informative level, every node.

    The leaf head feeds the leaf cross-entropy ("L"), the level heads the
    per-level cross-entropy ("PL"), the node head the binary cross-entropy
    on path multi-hot targets ("B"). Levels holding a single node are left out:
    a one-class softmax teaches nothing.

    Parameters
    ----------
    taxonomy : Taxonomy
        The label tree; it fixes the number and order of the columns.
    embedding_dim : int
        Size of the embeddings the heads read.
    n_classes : int, optional
        For a fit on label sets: the width of the leaf head, which then scores
        the classes (labels may be inner nodes), and every level gets a head,
        since on label sets a level of one node still says whether a sample
        reaches it. By default the leaf head scores the leaves and only the
        informative levels have heads.

    Examples
    --------
    >>> import torch
    >>> from sklearn_hier.taxonomy import Taxonomy
    >>> tax = Taxonomy.from_paths(["a/x", "a/y", "b/z"])
    >>> heads = HierarchicalHeads(tax, embedding_dim=4)
    >>> out = heads(torch.zeros(5, 4))
    >>> out.leaf.shape, {d: t.shape[1] for d, t in out.levels.items()}, out.nodes.shape
    (torch.Size([5, 3]), {1: 2, 2: 3}, torch.Size([5, 5]))
    """

    def __init__(self, taxonomy: Taxonomy, embedding_dim: int, n_classes: int | None = None) -> None:
        super().__init__()
        if not isinstance(taxonomy, Taxonomy):
            raise TypeError(f"taxonomy must be a Taxonomy; got {type(taxonomy).__name__}.")
        if isinstance(embedding_dim, bool) or not isinstance(embedding_dim, int) or embedding_dim < 1:
            raise ValueError(f"embedding_dim must be a positive int; got {embedding_dim!r}.")
        self.taxonomy = taxonomy
        self.level_depths = level_depths(taxonomy, multilabel=n_classes is not None)
        self.leaf = nn.Linear(embedding_dim, taxonomy.n_leaves if n_classes is None else n_classes)
        # ModuleDict keys must be strings.
        self.levels = nn.ModuleDict(
            {str(d): nn.Linear(embedding_dim, len(taxonomy.levels[d])) for d in self.level_depths}
        )
        self.nodes = nn.Linear(embedding_dim, taxonomy.n_nodes - 1)

    def forward(self, z: torch.Tensor) -> HeadOutputs:
        """Logits of every head for a batch of embeddings ``z`` of shape (B, embedding_dim)."""
        return HeadOutputs(
            leaf=self.leaf(z),
            levels={d: self.levels[str(d)](z) for d in self.level_depths},
            nodes=self.nodes(z),
        )


def class_probabilities(
    outputs: HeadOutputs, taxonomy: Taxonomy, classes: Sequence[str], route: str = "leaf"
) -> torch.Tensor:
    """(B, n_classes) probability that each class is one of a sample's labels, for heads fit on label sets.

    Each class is read from its own sigmoid, independently of the others.

    Parameters
    ----------
    outputs : HeadOutputs
        Of :class:`HierarchicalHeads` built with ``n_classes=len(classes)``.
    taxonomy : Taxonomy
    classes : sequence of str
        Node keys of the classes, the columns of the leaf head.
    route : {"leaf", "deepest_level", "nodes"}, default="leaf"
        ``"leaf"``: the leaf head's column of the class (trained by "L").
        ``"deepest_level"``: the class's column in the head of its own level
        (trained by "PL"). ``"nodes"``: the node head's column of the class
        (trained by "B"): the probability that the class lies in the
        sample's ancestor closure, which for a class with classes below it is
        also reached through them.

    Returns
    -------
    proba : Tensor of shape (B, n_classes)

    Examples
    --------
    >>> import torch
    >>> from sklearn_hier.taxonomy import Taxonomy
    >>> tax = Taxonomy.from_paths(["a/x", "a/y", "b"])
    >>> out = HierarchicalHeads(tax, embedding_dim=2, n_classes=2)(torch.zeros(1, 2))
    >>> class_probabilities(out, tax, ["b", "a/x"], "nodes").shape
    torch.Size([1, 2])
    """
    if route == "leaf":
        return torch.sigmoid(outputs.leaf)
    if route == "nodes":
        # nodes[1:] lists the levels in turn: a node's column is its position less the root's.
        position = {node: i - 1 for i, node in enumerate(taxonomy.nodes)}
        columns = torch.tensor([position[c] for c in classes], device=outputs.nodes.device)
        return torch.sigmoid(outputs.nodes[:, columns])
    if route != "deepest_level":
        raise ValueError(f"route must be 'leaf', 'deepest_level' or 'nodes' on label sets; got {route!r}.")
    within = {node: j for level in taxonomy.levels for j, node in enumerate(level)}
    columns = [outputs.levels[taxonomy.node_depth(c)][:, within[c]] for c in classes]
    return torch.sigmoid(torch.stack(columns, dim=1))


def level_depths(taxonomy: Taxonomy, multilabel: bool = False) -> tuple[int, ...]:
    """The depths that have a level head: the informative ones, or, on label sets, every depth.

    With one leaf per sample, a level of one node is a one-class softmax that
    teaches nothing; with label sets, its sigmoid says whether the sample
    reaches that level at all.

    Examples
    --------
    >>> from sklearn_hier.taxonomy import Taxonomy
    >>> tax = Taxonomy.from_paths(["a/x", "a/y"])
    >>> level_depths(tax), level_depths(tax, multilabel=True)
    ((2,), (1, 2))
    """
    return tuple(range(1, taxonomy.depth + 1)) if multilabel else taxonomy.informative_levels


def leaf_log_scores(outputs: HeadOutputs, taxonomy: Taxonomy, route: str = "leaf") -> torch.Tensor:
    """(B, n_leaves) log-scores of the leaves, read from the heads by one route.

    Parameters
    ----------
    outputs : HeadOutputs
    taxonomy : Taxonomy
        The tree the heads were built from.
    route : {"leaf", "deepest_level", "level_product", "nodes"}, default="leaf"
        ``"leaf"``: the leaf logits. ``"deepest_level"``: the paper's route
        for models without a leaf head, the log-probabilities of the deepest
        per-level head (on a tree whose leaves all lie at one depth, its
        argmax is the leaf; a leaf above the deepest level is scored by the
        deepest informative level on its own path). ``"level_product"``: the
        log of the product of the per-level probabilities along each leaf's
        path. ``"nodes"``: the Bernoulli log-likelihood of each leaf's path
        multi-hot vector under the node head. A softmax over the columns gives
        leaf probabilities.

    Returns
    -------
    scores : Tensor of shape (B, taxonomy.n_leaves)
        Columns follow ``taxonomy.leaves``.

    Examples
    --------
    >>> import torch
    >>> from sklearn_hier.taxonomy import Taxonomy
    >>> tax = Taxonomy.from_paths(["a/x", "a/y", "b/z"])
    >>> out = HierarchicalHeads(tax, embedding_dim=4)(torch.zeros(1, 4))
    >>> leaf_log_scores(out, tax, "level_product").shape
    torch.Size([1, 3])
    >>> # Level 1 (a, b) gives 0.6 / 0.4, level 2 (a/x, a/y, b/z) 0.3 / 0.3 / 0.4: the routes disagree.
    >>> levels = {1: torch.tensor([[0.6, 0.4]]).log(), 2: torch.tensor([[0.3, 0.3, 0.4]]).log()}
    >>> out = HeadOutputs(torch.zeros(1, 3), levels, torch.zeros(1, 5))
    >>> leaf_log_scores(out, tax, "deepest_level").exp()  # argmax b/z
    tensor([[0.3000, 0.3000, 0.4000]])
    >>> leaf_log_scores(out, tax, "level_product").exp()  # argmax a/x
    tensor([[0.1800, 0.1800, 0.1600]])
    """
    if route not in LEAF_ROUTES:
        raise ValueError(f"route must be one of {tuple(LEAF_ROUTES)}; got {route!r}.")
    if route == "leaf":
        return outputs.leaf
    device = outputs.leaf.device
    if route == "nodes":
        hot = torch.as_tensor(taxonomy.path_multi_hot(list(taxonomy.leaves)), device=device)
        return F.logsigmoid(outputs.nodes) @ hot.T + F.logsigmoid(-outputs.nodes) @ (1 - hot).T
    table = torch.as_tensor(np.array(taxonomy.leaf_level_codes()), device=device)
    scores = torch.zeros_like(outputs.leaf)
    for depth in sorted(outputs.levels):
        column = table[:, depth - 1]
        on_path = column >= 0
        log_proba = F.log_softmax(outputs.levels[depth], dim=1)[:, column[on_path]]
        if route == "level_product":
            scores[:, on_path] += log_proba
        else:  # deeper levels overwrite shallower ones: each leaf keeps the deepest level on its path
            scores[:, on_path] = log_proba
    return scores
