"""Pairwise similarity between embeddings: the one implementation used by losses, miners and metrics."""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["SIMILARITIES", "pairwise_similarity"]

SIMILARITIES = ("cosine", "dot", "euclidean")


def pairwise_similarity(a: torch.Tensor, b: torch.Tensor, metric: str = "cosine") -> torch.Tensor:
    """Similarity of every row of ``a`` to every row of ``b`` (higher = closer).

    Parameters
    ----------
    a : Tensor of shape (n, d)
    b : Tensor of shape (m, d)
    metric : {"cosine", "dot", "euclidean"}, default="cosine"
        ``"cosine"`` normalises the rows first (a zero row has similarity 0 to
        everything); ``"dot"`` is the raw inner product (what the paper's
        reference code ranks by); ``"euclidean"`` is the negated L2 distance so
        that larger still means closer.

    Returns
    -------
    sim : Tensor of shape (n, m)

    Examples
    --------
    >>> import torch
    >>> a = torch.tensor([[1.0, 0.0], [0.0, 2.0]])
    >>> pairwise_similarity(a, a)
    tensor([[1., 0.],
            [0., 1.]])
    >>> pairwise_similarity(a, a, metric="euclidean")
    tensor([[-0.0000, -2.2361],
            [-2.2361, -0.0000]])
    """
    if metric == "cosine":
        return F.normalize(a, dim=1) @ F.normalize(b, dim=1).T
    if metric == "dot":
        return a @ b.T
    if metric == "euclidean":
        return -torch.cdist(a, b)
    raise ValueError(f"metric must be one of {SIMILARITIES}; got {metric!r}.")
