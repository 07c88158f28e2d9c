"""Pairwise similarity between embeddings: the one implementation used by losses, miners and metrics."""

from __future__ import annotations

import math
from numbers import Real
from typing import Any

import torch
import torch.nn.functional as F

from sklearn_hier.nn.hyperbolic import poincare_similarity

__all__ = ["SIMILARITIES", "check_curvature_source", "curvature_of", "pairwise_similarity"]

SIMILARITIES = ("cosine", "dot", "euclidean", "poincare")


def curvature_of(source: Any) -> float | torch.Tensor:
    """The curvature magnitude ``c`` a source gives: a number as it is, a module's (possibly learned) ``curvature``.

    The triplet term and the miners take either, so that with a learned
    curvature they follow the network's :class:`~sklearn_hier.nn.PoincareEmbedding`.

    Examples
    --------
    >>> from sklearn_hier.nn.hyperbolic import PoincareEmbedding
    >>> curvature_of(0.5), round(float(curvature_of(PoincareEmbedding(c=2.0))), 4)
    (0.5, 2.0)
    """
    return source.curvature if isinstance(source, torch.nn.Module) else source


def check_curvature_source(source: Any) -> float | torch.nn.Module:
    """``source`` checked: a positive finite number (returned as a float) or a module with a ``curvature``.

    Examples
    --------
    >>> check_curvature_source(2)
    2.0
    >>> check_curvature_source(-1.0)
    Traceback (most recent call last):
    ...
    ValueError: curvature must be a positive finite number or a module with a curvature (a PoincareEmbedding); got -1.0.
    """
    if isinstance(source, torch.nn.Module) and hasattr(source, "curvature"):
        return source
    if isinstance(source, Real) and not isinstance(source, bool) and 0 < source < math.inf:
        return float(source)
    raise ValueError(
        "curvature must be a positive finite number or a module with a curvature (a PoincareEmbedding); "
        f"got {source!r}."
    )


def pairwise_similarity(a: torch.Tensor, b: torch.Tensor, metric: str = "cosine", *, c: Any = 1.0) -> torch.Tensor:
    """Similarity of every row of ``a`` to every row of ``b`` (higher = closer).

    Parameters
    ----------
    a : Tensor of shape (n, d)
    b : Tensor of shape (m, d)
    metric : {"cosine", "dot", "euclidean", "poincare"}, default="cosine"
        ``"cosine"`` normalises the rows first (a zero row has similarity 0 to
        everything); ``"dot"`` is the raw inner product (what the paper's
        reference code ranks by); ``"euclidean"`` is the negated L2 distance so
        that larger still means closer; ``"poincare"`` is the negated geodesic
        distance on the Poincaré ball of curvature ``-c``
        (:func:`~sklearn_hier.nn.hyperbolic.poincare_similarity`; rows must lie
        inside the ball).
    c : float, Tensor or module, default=1.0
        Curvature magnitude of ``"poincare"`` (see :func:`curvature_of`);
        ignored by the other metrics.

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
    >>> pairwise_similarity(a / 4, a / 4, metric="poincare")
    tensor([[-0.0000, -1.2503],
            [-1.2503, -0.0000]])
    """
    if metric == "cosine":
        return F.normalize(a, dim=1) @ F.normalize(b, dim=1).T
    if metric == "dot":
        return a @ b.T
    if metric == "euclidean":
        return -torch.cdist(a, b)
    if metric == "poincare":
        return poincare_similarity(a, b, curvature_of(c))
    raise ValueError(f"metric must be one of {SIMILARITIES}; got {metric!r}.")
