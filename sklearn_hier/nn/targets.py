"""Per-batch targets of the loss terms, derived from leaf codes and a :class:`~sklearn_hier.taxonomy.Taxonomy`."""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
import torch
from torch import nn

from sklearn_hier.taxonomy import Taxonomy

__all__ = ["TargetTables", "Targets", "Triplets"]

Triplets = tuple[torch.Tensor, torch.Tensor, torch.Tensor]


class TargetTables(nn.Module):
    """Every leaf's level codes and path multi-hot, as buffers: a batch's targets are then row gathers.

    The criterion owns one (:attr:`~sklearn_hier.nn.HierarchicalLoss.tables`),
    so the tables live on the criterion's device and go with it; nothing is
    cached per process.

    Parameters
    ----------
    taxonomy : Taxonomy

    Examples
    --------
    >>> import torch
    >>> from sklearn_hier.taxonomy import Taxonomy
    >>> tables = TargetTables(Taxonomy.from_paths(["a/x", "a/y", "b"]))
    >>> tables(torch.tensor([2])).levels
    tensor([[ 1, -1]])
    """

    def __init__(self, taxonomy: Taxonomy) -> None:
        super().__init__()
        self.taxonomy = taxonomy
        levels = torch.tensor(np.array(taxonomy.leaf_level_codes()), dtype=torch.long)
        self.register_buffer("levels", levels, persistent=False)
        self.register_buffer(
            "multi_hot", torch.tensor(taxonomy.path_multi_hot(list(taxonomy.leaves))), persistent=False
        )

    def forward(self, leaf_codes: torch.Tensor) -> Targets:
        """The :class:`Targets` of a batch of leaf codes (checked on the host; on a GPU, by the gather)."""
        codes = torch.as_tensor(leaf_codes)
        if codes.ndim != 1 or codes.dtype.is_floating_point or codes.dtype == torch.bool:
            raise ValueError(f"leaf_codes must be a 1-D integer tensor; got shape {tuple(codes.shape)}, {codes.dtype}.")
        codes = codes.long()
        n_leaves = self.taxonomy.n_leaves
        # The range check reads values back to the host; on an accelerator that would stall
        # every training step, and an out-of-range index fails in the gather below anyway.
        on_host = codes.device.type == "cpu"
        if codes.numel() and on_host and (int(codes.min()) < 0 or int(codes.max()) >= n_leaves):
            raise ValueError(
                f"leaf_codes must lie in [0, {n_leaves}) for a taxonomy of {n_leaves} leaves; "
                f"got values in [{int(codes.min())}, {int(codes.max())}]."
            )
        levels, hot = self.levels.to(codes.device), self.multi_hot.to(codes.device)
        return Targets(codes, levels[codes], hot[codes])


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
        """
        return cls.from_codes(torch.as_tensor(taxonomy.encode(y), device=device), taxonomy)
