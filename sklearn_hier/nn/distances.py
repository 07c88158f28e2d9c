"""Distances between embeddings: objects that carry their geometry, used by losses, miners, heads and metrics.

A :class:`Distance` answers "how close are these embeddings" as a similarity
(higher = closer) and says where classification heads read its points
(:meth:`Distance.tangent`). The estimator resolves its ``metric`` and
``geometry`` into one distance at fit (``distance_``) and hands that object to
the triplet term, the online miner, the network's heads and the scorers, so
that the geometry is decided in one place. Write a subclass for another
geometry; the built-in ones are :class:`Cosine` (the paper's), :class:`Dot`
(what the paper's reference code ranks by), :class:`Euclidean` and
:class:`Poincare` (the geodesic distance on the Poincaré ball).
"""

from __future__ import annotations

import math
from numbers import Real
from typing import Any, ClassVar

import torch
import torch.nn.functional as F

from sklearn_hier.nn.hyperbolic import logmap0, poincare_similarity
from sklearn_hier.nn.params import HyperParameters

__all__ = [
    "SIMILARITIES",
    "Cosine",
    "Distance",
    "Dot",
    "Euclidean",
    "Poincare",
    "as_distance",
    "check_curvature_source",
    "curvature_of",
    "distance_of",
    "pairwise_similarity",
]


def curvature_of(source: Any) -> float | torch.Tensor:
    """The curvature magnitude ``c`` a source gives: a number as it is, a module's (possibly learned) ``curvature``.

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


class Distance(HyperParameters):
    """Base class of the distances: a similarity between rows (higher = closer) and where heads read a point.

    A subclass implements :meth:`similarity`; its constructor arguments are
    its options (``get_params`` / ``set_params`` read them). Pass an instance
    as ``HierarchicalEmbedder(metric=...)``: the triplet term, the online
    miner and the scorers then use it. It must be picklable (define it in a
    module, not a notebook cell, for process-parallel cross-validation).

    Attributes
    ----------
    name : str
        A short name, shown in messages and records.
    on_ball : bool
        Whether the distance measures points of the Poincaré ball (then the
        estimator's ``geometry="poincare"`` must put them there).

    Examples
    --------
    >>> import torch
    >>> class Manhattan(Distance):
    ...     name = "manhattan"
    ...     def similarity(self, a, b):
    ...         return -torch.cdist(a, b, p=1)
    >>> Manhattan().similarity(torch.zeros(1, 2), torch.ones(1, 2))
    tensor([[-2.]])
    """

    name: ClassVar[str] = "distance"
    on_ball: ClassVar[bool] = False

    def similarity(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """(n, m) similarities of the rows of ``a`` (n, d) to those of ``b`` (m, d)."""
        raise NotImplementedError

    def tangent(self, z: torch.Tensor) -> torch.Tensor:
        """Where linear heads read the embeddings ``z``: ``z`` itself, or a manifold's tangent space."""
        return z

    def for_ranking(self, embeddings: torch.Tensor) -> tuple[torch.Tensor, Distance]:
        """Embeddings and distance the metrics rank with; the same ranking as ``self`` on ``embeddings``."""
        return embeddings, self

    def bound_to(self, embedding_map: Any) -> Distance:
        """The distance for a network whose embedding map is ``embedding_map`` (itself for a flat geometry)."""
        return self

    def as_metric(self) -> str | Distance:
        """What the metrics' ``metric`` argument takes: the name of a built-in distance, else this object."""
        return self.name if type(self) is BUILTIN_DISTANCES.get(self.name) else self

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other.get_params() == self.get_params()

    def __hash__(self) -> int:
        return hash(type(self))


class Cosine(Distance):
    """Cosine similarity; a zero row has similarity 0 to everything (the paper's metric).

    Examples
    --------
    >>> import torch
    >>> Cosine().similarity(torch.tensor([[1.0, 0.0]]), torch.tensor([[2.0, 0.0], [0.0, 3.0]]))
    tensor([[1., 0.]])
    """

    name = "cosine"

    def similarity(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return F.normalize(a, dim=1) @ F.normalize(b, dim=1).T


class Dot(Distance):
    """The raw inner product (what the paper's reference code ranks by).

    Examples
    --------
    >>> import torch
    >>> Dot().similarity(torch.tensor([[1.0, 2.0]]), torch.tensor([[3.0, 4.0]]))
    tensor([[11.]])
    """

    name = "dot"

    def similarity(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return a @ b.T


class Euclidean(Distance):
    """The negated L2 distance, so that larger still means closer.

    Examples
    --------
    >>> import torch
    >>> Euclidean().similarity(torch.zeros(1, 2), torch.tensor([[3.0, 4.0]]))
    tensor([[-5.]])
    """

    name = "euclidean"

    def similarity(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return -torch.cdist(a, b)


class Poincare(Distance):
    """The negated geodesic distance on the Poincaré ball of curvature ``-c``; heads read ``logmap0``.

    Parameters
    ----------
    curvature : float or torch.nn.Module, default=1.0
        The magnitude ``c``: a number, or the network's
        :class:`~sklearn_hier.nn.PoincareEmbedding`, whose (possibly learned)
        curvature the distance then follows. The estimator binds it to its
        ball (:meth:`bound_to`), so the distance, the ball and the heads
        always share one ``c``.

    Examples
    --------
    >>> import torch
    >>> a = torch.tensor([[0.0, 0.0], [0.5, 0.0]])
    >>> Poincare().similarity(a, a)
    tensor([[-0.0000, -1.0986],
            [-1.0986, -0.0000]])
    """

    name = "poincare"
    on_ball = True

    def __init__(self, curvature: float | torch.nn.Module = 1.0) -> None:
        check_curvature_source(curvature)
        self.curvature = curvature

    @property
    def c(self) -> float | torch.Tensor:
        """The current curvature magnitude (a tensor when it follows a ball)."""
        # Checked when built (bound_to and the estimator build afresh); the hyperbolic maps check a number again.
        return curvature_of(self.curvature)

    @property
    def curvature_value(self) -> float:
        """The current curvature magnitude as a float (detached from any graph)."""
        c = self.c
        return float(c.detach()) if isinstance(c, torch.Tensor) else float(c)

    def similarity(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return poincare_similarity(a, b, self.c)

    def tangent(self, z: torch.Tensor) -> torch.Tensor:
        return logmap0(z, self.c)

    def for_ranking(self, embeddings: torch.Tensor) -> tuple[torch.Tensor, Distance]:
        # Points of the ball of curvature -c, rescaled onto the unit ball: the same ranking.
        return embeddings * math.sqrt(self.curvature_value), Poincare(1.0)

    def bound_to(self, embedding_map: Any) -> Distance:
        if not hasattr(embedding_map, "curvature"):
            raise ValueError(
                "The Poincaré distance measures points of the ball; use geometry='poincare', which maps the "
                "embeddings onto it."
            )
        return Poincare(embedding_map)

    def as_metric(self) -> str | Distance:
        # The metrics' "poincare" is the unit ball; another curvature goes as the object.
        return "poincare" if self.curvature_value == 1.0 else self

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Poincare) and other.curvature_value == self.curvature_value

    def __hash__(self) -> int:
        return hash(type(self))


BUILTIN_DISTANCES = {cls.name: cls for cls in (Cosine, Dot, Euclidean, Poincare)}
SIMILARITIES = tuple(BUILTIN_DISTANCES)


def as_distance(metric: str | Distance, *, c: Any = 1.0) -> Distance:
    """A :class:`Distance` for ``metric``: an instance as it is, a name of :data:`SIMILARITIES` built.

    Parameters
    ----------
    metric : {"cosine", "dot", "euclidean", "poincare"} or Distance
    c : float or module, default=1.0
        Curvature of ``"poincare"``; ignored otherwise.

    Examples
    --------
    >>> as_distance("euclidean"), as_distance("poincare", c=2.0)
    (Euclidean(), Poincare(curvature=2.0))
    """
    if isinstance(metric, Distance):
        return metric
    if metric == "poincare":
        return Poincare(c)
    if isinstance(metric, str) and metric in BUILTIN_DISTANCES:
        return BUILTIN_DISTANCES[metric]()
    raise ValueError(f"metric must be one of {SIMILARITIES} or a Distance instance; got {metric!r}.")


def distance_of(final: Any, metric: str | Distance) -> Distance:
    """The distance to rank a fitted estimator's embeddings by: ``metric``, or for ``"auto"`` its own ``distance_``.

    An estimator without ``distance_`` is asked for ``metric_`` and
    ``curvature_``; one with neither ranks by cosine. ``"poincare"`` takes the
    fitted estimator's curvature (1 without one).

    Examples
    --------
    >>> class Fitted:
    ...     distance_ = Poincare(2.0)
    >>> distance_of(Fitted(), "auto"), distance_of(Fitted(), "dot"), distance_of(object(), "auto")
    (Poincare(curvature=2.0), Dot(), Cosine())
    """
    if isinstance(metric, str) and metric == "auto":
        fitted = getattr(final, "distance_", None)
        if fitted is not None:
            return fitted
        metric = getattr(final, "metric_", "cosine")
    if isinstance(metric, str) and metric == "poincare":
        return Poincare(getattr(final, "curvature_", None) or 1.0)
    return as_distance(metric)


def pairwise_similarity(
    a: torch.Tensor, b: torch.Tensor, metric: str | Distance = "cosine", *, c: Any = 1.0
) -> torch.Tensor:
    """Similarity of every row of ``a`` to every row of ``b`` (higher = closer).

    Parameters
    ----------
    a : Tensor of shape (n, d)
    b : Tensor of shape (m, d)
    metric : {"cosine", "dot", "euclidean", "poincare"} or Distance, default="cosine"
        See :class:`Cosine`, :class:`Dot`, :class:`Euclidean`, :class:`Poincare`.
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
    return as_distance(metric, c=c).similarity(a, b)
