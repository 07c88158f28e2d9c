"""Per-batch targets of the loss terms, derived from leaf codes and a :class:`~sklearn_hier.taxonomy.Taxonomy`."""

from __future__ import annotations

import functools
from typing import Any, NamedTuple

import numpy as np
import torch

from sklearn_hier.taxonomy import Taxonomy

__all__ = ["Targets", "Triplets"]

Triplets = tuple[torch.Tensor, torch.Tensor, torch.Tensor]


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
