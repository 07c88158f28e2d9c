"""The network the estimator trains: a backbone, an embedding map and the hierarchical heads."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from sklearn_hier.nn.distances import Cosine, Distance
from sklearn_hier.nn.heads import HeadOutputs

__all__ = ["EmbeddingNetwork", "output_width"]


class EmbeddingNetwork(nn.Module):
    """A backbone, an embedding map, then the hierarchical heads.

    :meth:`embed` is the one path from inputs to embeddings (used by training
    and by ``transform``): ``embedding_map(backbone(x))``. The map is the
    identity by default; it is the place for a change of geometry (e.g. a
    projection onto a ball) that the triplet term then sees. The heads read
    ``distance.tangent(z)``: the embeddings themselves for a flat distance,
    the tangent vectors at the origin for the Poincaré ball's (a plain vector
    space where linear heads and softmax work as on Euclidean features).

    Parameters
    ----------
    backbone : torch.nn.Module
        Maps a batch of inputs to features of shape (B, embedding_dim).
    heads : torch.nn.Module
        :class:`~sklearn_hier.nn.HierarchicalHeads` reading the embeddings.
    embedding_dim : int
        Width of the embeddings.
    embedding_map : torch.nn.Module or None, default=None
        Applied to the backbone's output; ``None`` is the identity.
    distance : Distance or None, default=None
        The fit's distance, bound to ``embedding_map``
        (:meth:`~sklearn_hier.nn.distances.Distance.bound_to`); ``None`` is
        :class:`~sklearn_hier.nn.distances.Cosine`.

    Examples
    --------
    >>> import torch
    >>> from sklearn_hier.nn import MLP, HierarchicalHeads
    >>> from sklearn_hier.taxonomy import Taxonomy
    >>> tax = Taxonomy.from_paths(["a/x", "a/y", "b"])
    >>> net = EmbeddingNetwork(MLP(3, hidden=(), embedding_dim=2), HierarchicalHeads(tax, 2), 2)
    >>> z, outputs = net(torch.zeros(4, 3))
    >>> z.shape, outputs.leaf.shape
    (torch.Size([4, 2]), torch.Size([4, 3]))
    """

    def __init__(
        self,
        backbone: nn.Module,
        heads: nn.Module,
        embedding_dim: int,
        embedding_map: nn.Module | None = None,
        distance: Distance | None = None,
    ) -> None:
        super().__init__()
        self.backbone = backbone
        self.embedding_map = nn.Identity() if embedding_map is None else embedding_map
        self.heads = heads
        self.embedding_dim = embedding_dim
        self.distance = Cosine() if distance is None else distance

    def embed(self, x: torch.Tensor, **kwargs: Any) -> torch.Tensor:
        """Embeddings of a batch, shape (B, embedding_dim)."""
        return self.embedding_map(self.backbone(x, **kwargs))

    def read_heads(self, z: torch.Tensor) -> HeadOutputs:
        """Head logits of a batch of embeddings ``z``, read where the distance says (:meth:`Distance.tangent`)."""
        return self.heads(self.distance.tangent(z))

    def forward(self, x: torch.Tensor, **kwargs: Any) -> tuple[torch.Tensor, HeadOutputs]:
        """Embeddings and head logits of a batch."""
        z = self.embed(x, **kwargs)
        return z, self.read_heads(z)


def output_width(backbone: nn.Module, sample_shape: tuple[int, ...]) -> int:
    """Width of ``backbone``'s output for inputs of ``sample_shape``, from a dry run on zeros.

    The backbone is run in eval mode (batch-norm statistics stay untouched) and
    left in the mode it was in.

    Examples
    --------
    >>> output_width(torch.nn.Linear(3, 5), (3,))
    5
    """
    was_training = backbone.training
    device = next(backbone.parameters(), torch.empty(0)).device
    backbone.eval()
    try:
        with torch.no_grad():
            z = backbone(torch.zeros((2, *sample_shape), device=device))
    finally:
        backbone.train(was_training)
    if not isinstance(z, torch.Tensor) or z.ndim != 2 or len(z) != 2:
        shape = tuple(z.shape) if isinstance(z, torch.Tensor) else type(z).__name__
        raise ValueError(
            f"The module must map a batch of shape (B, *{sample_shape}) to embeddings of shape (B, D); "
            f"for B=2 it returned {shape}."
        )
    return int(z.shape[1])
