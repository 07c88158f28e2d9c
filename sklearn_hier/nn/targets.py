"""Per-batch targets of the loss terms, derived from codes and a :class:`~sklearn_hier.taxonomy.Taxonomy`.

A sample's *code* indexes the rows of the target tables. With one leaf per
sample (single-label ``y``) a row is a leaf of the tree, as in the paper.
With label sets (multi-label ``y``) a row is one of the distinct label sets
of the training data (:class:`LabelSetTable`): its targets are the multi-hot
of its labels over the classes and of their ancestor closure over the nodes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import torch
from torch import nn

from sklearn_hier.taxonomy import Taxonomy, indicator_matrix, is_multilabel, label_sets, lca_depth

__all__ = ["LabelSetTable", "TargetTables", "Targets", "Triplets"]

Triplets = tuple[torch.Tensor, torch.Tensor, torch.Tensor]


@dataclass(frozen=True)
class LabelSetTable:
    """The distinct label sets of a multi-label fit (the code of a sample is its set's row) and the classes.

    Attributes
    ----------
    sets : tuple of frozenset of str
        Node keys of each distinct label set, in code order.
    classes : tuple of str
        The classes (every node that is some sample's label), in node order:
        the columns of the label head and of the predictions.

    Examples
    --------
    >>> from sklearn_hier.taxonomy import Taxonomy
    >>> tax = Taxonomy.from_paths(["a/x", "a/y", "b"])
    >>> table, codes = LabelSetTable.encode([{"a/x", "b"}, {"a/y"}, {"b", "a/x"}], tax)
    >>> table.classes, codes.tolist()
    (('b', 'a/x', 'a/y'), [0, 1, 0])
    >>> table.indicator().tolist()
    [[1.0, 1.0, 0.0], [0.0, 0.0, 1.0]]
    """

    sets: tuple[frozenset[str], ...]
    classes: tuple[str, ...]

    @classmethod
    def encode(cls, sets: Any, taxonomy: Taxonomy) -> tuple[LabelSetTable, np.ndarray]:
        """The table of the distinct sets among ``sets`` (node keys of ``taxonomy``) and each sample's code.

        Sets are ordered by their labels' node order, so the table does not
        depend on the order of the samples.
        """
        position = {node: i for i, node in enumerate(taxonomy.nodes)}
        keys = [tuple(sorted(position[label] for label in labels)) for labels in sets]
        distinct = sorted(set(keys))
        row = {key: i for i, key in enumerate(distinct)}
        classes = tuple(taxonomy.nodes[i] for i in sorted({i for key in distinct for i in key}))
        table = cls(tuple(frozenset(taxonomy.nodes[i] for i in key) for key in distinct), classes)
        return table, np.fromiter((row[key] for key in keys), dtype=np.int64, count=len(keys))

    def indicator(self) -> np.ndarray:
        """(n_sets, n_classes) float32: 1 where a set holds a class (as ``indicator_matrix`` writes it)."""
        # The sets hold node keys already: read as identities, nothing is split or resolved again.
        return indicator_matrix(list(self.sets), classes=list(self.classes), sep=None).astype(np.float32)


class TargetTables(nn.Module):
    """Every row's targets as buffers, so that a batch's targets are row gathers.

    With one leaf per sample, a row is a leaf: its level codes and path
    multi-hot. With label sets, a row is a distinct training set: its ancestor
    closure (multi-hot over ``taxonomy.nodes[1:]``) and its labels (multi-hot
    over the classes). The criterion owns one
    (:attr:`~sklearn_hier.nn.HierarchicalLoss.tables`), so the tables live on
    the criterion's device and go with it; nothing is cached per process.

    Parameters
    ----------
    taxonomy : Taxonomy
    label_sets : LabelSetTable or None, default=None
        The rows of a multi-label fit; None for one leaf per sample.

    Attributes
    ----------
    n_codes : int
        Number of rows (leaves, or distinct label sets).
    max_shared : int
        The largest number of closure nodes two samples can share (the
        tree's depth for one leaf per sample).

    Examples
    --------
    >>> import torch
    >>> from sklearn_hier.taxonomy import Taxonomy
    >>> tables = TargetTables(Taxonomy.from_paths(["a/x", "a/y", "b"]))
    >>> tables(torch.tensor([2])).levels
    tensor([[ 1, -1]])
    """

    def __init__(self, taxonomy: Taxonomy, label_sets: LabelSetTable | None = None) -> None:
        super().__init__()
        self.taxonomy = taxonomy
        self.label_sets = label_sets
        if label_sets is None:
            levels = torch.tensor(np.array(taxonomy.leaf_level_codes()), dtype=torch.long)
            multi_hot = taxonomy.path_multi_hot(list(taxonomy.leaves))
            self.n_codes, self.max_shared = taxonomy.n_leaves, taxonomy.depth
            self.register_buffer("labels", None, persistent=False)
        else:
            levels = None
            multi_hot = taxonomy.closure_multi_hot(list(label_sets.sets))
            self.n_codes, self.max_shared = len(label_sets.sets), int(multi_hot.sum(axis=1).max(initial=0))
            self.register_buffer("labels", torch.tensor(label_sets.indicator()), persistent=False)
        self.register_buffer("levels", levels, persistent=False)
        self.register_buffer("multi_hot", torch.tensor(multi_hot), persistent=False)

    @property
    def multilabel(self) -> bool:
        """Whether the rows are label sets."""
        return self.label_sets is not None

    def forward(self, leaf_codes: torch.Tensor) -> Targets:
        """The :class:`Targets` of a batch of leaf codes (checked on the host; on a GPU, by the gather)."""
        codes = torch.as_tensor(leaf_codes)
        if codes.ndim != 1 or codes.dtype.is_floating_point or codes.dtype == torch.bool:
            raise ValueError(f"leaf_codes must be a 1-D integer tensor; got shape {tuple(codes.shape)}, {codes.dtype}.")
        codes = codes.long()
        n_codes = self.n_codes
        # The range check reads values back to the host; on an accelerator that would stall
        # every training step, and an out-of-range index fails in the gather below anyway.
        on_host = codes.device.type == "cpu"
        if codes.numel() and on_host and (int(codes.min()) < 0 or int(codes.max()) >= n_codes):
            rows = "leaves" if self.label_sets is None else "label sets"
            raise ValueError(
                f"leaf_codes must lie in [0, {n_codes}) for a table of {n_codes} {rows}; "
                f"got values in [{int(codes.min())}, {int(codes.max())}]."
            )
        hot = self.multi_hot.to(codes.device)[codes]
        if self.label_sets is not None:
            return Targets(codes, None, hot, self.labels.to(codes.device)[codes])
        return Targets(codes, self.levels.to(codes.device)[codes], hot)


class Targets(NamedTuple):
    """Every target a loss term may need, for one batch.

    Attributes
    ----------
    leaf : LongTensor of shape (B,)
        Leaf codes (:meth:`Taxonomy.encode`), or label-set codes (rows of a
        :class:`LabelSetTable`).
    levels : LongTensor of shape (B, taxonomy.depth) or None
        Level codes (:meth:`Taxonomy.level_codes`); -1 past a path's end,
        where the per-level terms ignore the sample. None for label sets.
    multi_hot : FloatTensor of shape (B, taxonomy.n_nodes - 1)
        Path multi-hot vectors (:meth:`Taxonomy.path_multi_hot`); for label
        sets, the ancestor closure (:meth:`Taxonomy.closure_multi_hot`).
    labels : FloatTensor of shape (B, n_classes) or None
        For label sets, the multi-hot of the labels over the classes
        (:attr:`LabelSetTable.classes`); None for one leaf per sample.

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
    levels: torch.Tensor | None
    multi_hot: torch.Tensor
    labels: torch.Tensor | None = None

    def shared(self) -> torch.Tensor:
        """(B, B) long: how many nodes (root excluded) the closures of two samples share.

        With one leaf per sample on a tree this is the depth of their lowest
        common ancestor (computed as such, from the level codes); with label
        sets, the size of the intersection of their ancestor closures. The
        triplet miners call a triplet valid when the anchor shares more with
        the positive than with the negative.

        Examples
        --------
        >>> import torch
        >>> from sklearn_hier.taxonomy import Taxonomy
        >>> Targets.from_y(["a/x", "a/y", "b"], Taxonomy.from_paths(["a/x", "a/y", "b"])).shared()
        tensor([[2, 1, 0],
                [1, 2, 0],
                [0, 0, 1]])
        """
        if self.levels is not None:
            return lca_depth(self.levels, self.levels)
        hot = self.multi_hot
        return (hot @ hot.T).round().long()

    @classmethod
    def from_codes(cls, leaf_codes: torch.Tensor, taxonomy: Taxonomy) -> Targets:
        """Build all targets from leaf codes, on the leaf codes' device (tables built for this call).

        In a training loop, build a :class:`TargetTables` once and call it per batch.

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
        return TargetTables(taxonomy)(leaf_codes)

    @classmethod
    def from_y(cls, y: Any, taxonomy: Taxonomy, device: torch.device | str | None = None) -> Targets:
        """Build all targets from labels (any form :meth:`Taxonomy.encode` accepts).

        Examples
        --------
        >>> from sklearn_hier.taxonomy import Taxonomy
        >>> Targets.from_y(["b", "a"], Taxonomy.from_paths(["a", "b"])).leaf
        tensor([1, 0])
        >>> Targets.from_y([{"a", "b"}, {"b"}], Taxonomy.from_paths(["a", "b"])).labels  # label sets
        tensor([[1., 1.],
                [0., 1.]])
        """
        if is_multilabel(y):
            table, codes = LabelSetTable.encode(label_sets(y, taxonomy=taxonomy), taxonomy)
            return TargetTables(taxonomy, table)(torch.as_tensor(codes, device=device))
        return cls.from_codes(torch.as_tensor(taxonomy.encode(y), device=device), taxonomy)
