"""Embeddings on the Poincaré ball: the map onto the ball, geodesic distances, and the way back.

The ball of curvature ``-c`` (``c > 0``) holds the points of norm below
``1 / sqrt(c)``. A backbone's Euclidean features ``v`` reach it through the
exponential map at the origin,

    exp0(v) = tanh(sqrt(c) ||v||) v / (sqrt(c) ||v||),

and come back to the tangent space at the origin (a plain vector space, where
linear classification heads work) through the logarithmic map,

    log0(y) = artanh(sqrt(c) ||y||) y / (sqrt(c) ||y||).

The geodesic distance is

    d(x, y) = arcosh(1 + 2 c ||x - y||^2 / ((1 - c ||x||^2) (1 - c ||y||^2))) / sqrt(c).

These closed forms are written here rather than called from geoopt, for
three measured reasons: geoopt's maps branch on the sign of the curvature
(``if torch.all(k < 0)``), a host synchronisation on every call on a GPU and
a graph break under ``torch.compile`` (4 in exp0 -> distance -> log0), where
this module has none; its broadcast distance materialises several ``(n, m, d)`` tensors
for an ``(n, m)`` block; and in float32 its distance loses up to 1e-3 near the
boundary (``benchmarks/bench_hyperbolic.py``). geoopt 0.5.1 also relies on
``torch.jit.script``, deprecated in torch 2.11. The tests check every map and
distance against geoopt's values and against the closed forms.

Numerical safety, where the ball's maths breaks down near its boundary:

- every function computes in float32 (float64 input stays float64), with
  autocast disabled, so bf16 / fp16 activations never reach artanh or arcosh;
- :class:`PoincareEmbedding` clips the Euclidean feature norm before exp0
  (Guo et al., 2022) and projects the result to the norm
  ``(1 - eps) / sqrt(c)``, with a larger ``eps`` when the input is in half
  precision (see :func:`boundary_eps`);
- norms are computed on rescaled vectors, so inputs as large as 1e30 do not
  overflow float32.

References
----------
Nickel & Kiela (2017), Poincaré embeddings for learning hierarchical representations.
Ganea, Bécigneul & Hofmann (2018), Hyperbolic neural networks.
Guo, Chen & Yu (2022), Clipped hyperbolic classifiers are super-hyperbolic classifiers.
"""

from __future__ import annotations

import math
from numbers import Real

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

__all__ = [
    "PoincareEmbedding",
    "boundary_eps",
    "check_in_ball",
    "expmap0",
    "logmap0",
    "pairwise_poincare_distance",
    "poincare_distance",
    "poincare_similarity",
]

HALF_PRECISION_EPS = 1e-2
MIN_CURVATURE = 1e-5
# The smallest boundary margin eps accepted: float32's spacing just below 1 is 6e-8 (check_ball_options).
MIN_EPS = 1e-6
_EPS = {torch.float64: 1e-5, torch.float32: 4e-3}
_HALF = (torch.float16, torch.bfloat16)
# tanh(15) is 1 in float32: a tangent vector longer than 15 / sqrt(c) lands on
# the boundary whatever its length.
_TANH_SATURATION = 15.0
# Norms are floored here (as in geoopt) so that v / ||v|| stays finite at v = 0.
_MIN_NORM = 1e-15
# artanh's argument is capped here (as in geoopt): artanh(1) is infinite.
_MAX_ARTANH = 1 - 1e-7
# Below this a squared distance is treated as zero: the square root's gradient stays finite.
_TINY_SQUARE = 1e-15


def boundary_eps(dtype: torch.dtype, device_type: str = "cpu") -> float:
    """The margin ``eps`` that keeps points at norm ``(1 - eps) / sqrt(c)`` at most.

    geoopt's margins for float32 (4e-3) and float64 (1e-5); ``HALF_PRECISION_EPS``
    (1e-2) when ``dtype`` is float16 / bfloat16 or autocast to one of them is
    active on ``device_type``: a point then cast to half precision (bf16 keeps 8
    significant bits, a relative error up to 2**-9 on each coordinate) must still
    lie inside the ball.

    Parameters
    ----------
    dtype : torch.dtype
        Dtype of the features that are mapped onto the ball.
    device_type : str, default="cpu"
        Device type whose autocast state is consulted.

    Returns
    -------
    eps : float

    Examples
    --------
    >>> import torch
    >>> boundary_eps(torch.float32), boundary_eps(torch.bfloat16)
    (0.004, 0.01)
    """
    autocast_half = torch.is_autocast_enabled(device_type) and torch.get_autocast_dtype(device_type) in _HALF
    if dtype in _HALF or autocast_half:
        return HALF_PRECISION_EPS
    return _EPS.get(dtype, _EPS[torch.float32])


def check_in_ball(points: torch.Tensor, c: float | torch.Tensor = 1.0) -> None:
    """Raise ValueError unless every row of ``points`` lies strictly inside the ball of curvature ``-c``.

    The distances and the log map are meaningless (or infinite) outside the
    ball; call this where points enter from outside (a user's embeddings, a
    scorer's input), not inside a training loop.

    Parameters
    ----------
    points : Tensor of shape (n, d)
    c : float or Tensor, default=1.0

    Examples
    --------
    >>> import torch
    >>> check_in_ball(torch.tensor([[0.5, 0.0]]))
    >>> check_in_ball(torch.tensor([[0.5, 0.0], [3.0, 4.0]]))
    Traceback (most recent call last):
    ...
    ValueError: Points must lie inside the Poincaré ball of curvature -1, of radius 1/sqrt(c) = 1; row 1 has norm 5.
    """
    points = _upcast(points.detach())
    c = _curvature(c, points)
    radius = float(c.rsqrt())
    norms = points.norm(dim=-1) if points.ndim else points.abs()
    outside = ~(norms < radius)
    if bool(outside.any()):
        row = int(outside.reshape(-1).nonzero()[0])
        raise ValueError(
            f"Points must lie inside the Poincaré ball of curvature -{float(c):.4g}, of radius 1/sqrt(c) = "
            f"{radius:.4g}; row {row} has norm {float(norms.reshape(-1)[row]):.4g}."
        )


def _upcast(x: torch.Tensor) -> torch.Tensor:
    """``x`` in float32, or float64 when it already is: the precision the ball's maths runs in."""
    return x if x.dtype == torch.float64 else x.to(torch.float32)


def _upcast_pair(x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Both in float32, or both in float64 when either is."""
    x, y = _upcast(x), _upcast(y)
    dtype = torch.promote_types(x.dtype, y.dtype)
    return x.to(dtype), y.to(dtype)


def _curvature(c: float | torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """``c`` as a tensor on ``like``'s device and dtype; a number must be positive."""
    if not isinstance(c, torch.Tensor):
        if not (math.isfinite(c) and c > 0):
            raise ValueError(f"The curvature c must be a positive finite number (the ball has curvature -c); got {c}.")
        return torch.tensor(c, dtype=like.dtype, device=like.device)
    return c.to(device=like.device, dtype=like.dtype)


def _no_autocast(x: torch.Tensor) -> torch.autocast:
    return torch.autocast(device_type=x.device.type, enabled=False)


def _safe_norm(x: torch.Tensor) -> torch.Tensor:
    """Euclidean norm of the last dimension (keepdim) that does not overflow for entries near 1e30."""
    scale = x.detach().abs().amax(dim=-1, keepdim=True).clamp_min(torch.finfo(x.dtype).tiny)
    return scale * (x / scale).norm(dim=-1, keepdim=True)


def _clip_norm(x: torch.Tensor, radius: float | torch.Tensor) -> torch.Tensor:
    """Rescale the rows longer than ``radius`` to that length (gradients stay finite at zero)."""
    # radius / max(norm, radius) = min(1, radius / norm) without a division by a zero norm.
    return x * (radius / _safe_norm(x).clamp_min(radius))


def expmap0(v: torch.Tensor, c: float | torch.Tensor = 1.0, *, eps: float | None = None) -> torch.Tensor:
    """Map tangent vectors at the origin onto the Poincaré ball (exponential map at 0).

    Parameters
    ----------
    v : Tensor of shape (..., d)
        Euclidean vectors (e.g. a backbone's features), any floating dtype.
    c : float or Tensor, default=1.0
        The ball's curvature is ``-c``; ``c > 0``.
    eps : float, default=None
        The result is projected to norm ``(1 - eps) / sqrt(c)`` at most; by
        default :func:`boundary_eps` of ``v``'s dtype.

    Returns
    -------
    y : Tensor of shape (..., d)
        Points on the ball, float32 (float64 for float64 input).

    Examples
    --------
    >>> import torch
    >>> y = expmap0(torch.tensor([[0.0, 1.0], [3.0, 4.0]]))
    >>> y[0]  # tanh(1) along the same direction
    tensor([0.0000, 0.7616])
    >>> y.norm(dim=1)  # tanh(5) lies beyond 1 - eps: projected to norm 0.996
    tensor([0.7616, 0.9960])
    """
    eps = boundary_eps(v.dtype, v.device.type) if eps is None else eps
    with _no_autocast(v):
        v = _upcast(v)
        c = _curvature(c, v)
        # Past the saturation length exp0 only keeps the direction; clipping there avoids overflow.
        sqrt_c = c.sqrt()
        v = _clip_norm(v, _TANH_SATURATION / sqrt_c)
        scaled_norm = sqrt_c * v.norm(dim=-1, keepdim=True).clamp_min(_MIN_NORM)
        # The projection onto the ball of radius (1 - eps) / sqrt(c) is a norm clip.
        return _clip_norm(torch.tanh(scaled_norm) * v / scaled_norm, (1 - eps) / sqrt_c)


def logmap0(y: torch.Tensor, c: float | torch.Tensor = 1.0) -> torch.Tensor:
    """Map points of the Poincaré ball to the tangent space at the origin (logarithmic map at 0).

    The tangent space is a plain vector space: classification heads (linear
    layers and softmax) work on ``logmap0(y)`` exactly as on Euclidean features,
    and ``logmap0(expmap0(v)) == v`` for vectors inside the projection radius.

    Parameters
    ----------
    y : Tensor of shape (..., d)
        Points on the ball of curvature ``-c``.
    c : float or Tensor, default=1.0

    Returns
    -------
    v : Tensor of shape (..., d)
        Float32 (float64 for float64 input).

    Examples
    --------
    >>> import torch
    >>> logmap0(expmap0(torch.tensor([[3.0, 4.0]]), c=0.1), c=0.1)
    tensor([[3.0000, 4.0000]])
    """
    with _no_autocast(y):
        y = _upcast(y)
        scaled_norm = _curvature(c, y).sqrt() * y.norm(dim=-1, keepdim=True).clamp_min(_MIN_NORM)
        return torch.atanh(scaled_norm.clamp_max(_MAX_ARTANH)) * y / scaled_norm


def _geodesic_distance(squared: torch.Tensor, x2: torch.Tensor, y2: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    """``arcosh(1 + 2c ||x - y||^2 / ((1 - c||x||^2)(1 - c||y||^2))) / sqrt(c)`` from the squared norms."""
    # Points projected inside the ball keep 1 - c||x||^2 > 0; the floor guards unprojected input.
    tiny = torch.finfo(squared.dtype).tiny
    z = 2 * c * squared / ((1 - c * x2).clamp_min(tiny) * (1 - c * y2).clamp_min(tiny))
    # arcosh(1 + z) = log1p(z + sqrt(z (z + 2))), accurate for small z; the floor keeps
    # sqrt's gradient finite at z = 0.
    w = z * (z + 2)
    root = torch.where(w > _TINY_SQUARE, w.clamp_min(_TINY_SQUARE).sqrt(), torch.zeros_like(w))
    return torch.log1p(z + root) / c.sqrt()


def poincare_distance(x: torch.Tensor, y: torch.Tensor, c: float | torch.Tensor = 1.0) -> torch.Tensor:
    """Geodesic distance between paired rows of ``x`` and ``y`` (broadcasting), e.g. anchors and positives.

    The closed form (module docstring) on the exact differences ``x - y``.
    geoopt's ``dist`` gives the same values in float64; in float32 its error
    reaches 1e-3 on pairs near the boundary, where ours stays below 1e-5
    (``benchmarks/bench_hyperbolic.py``).

    Parameters
    ----------
    x, y : Tensor of shape (..., d)
        Points on the ball of curvature ``-c``, broadcastable against each other.
    c : float or Tensor, default=1.0

    Returns
    -------
    d : Tensor of shape (...)
        Float32 (float64 for float64 input).

    See Also
    --------
    pairwise_poincare_distance : every row of one set against every row of another.

    Examples
    --------
    >>> import torch
    >>> poincare_distance(torch.tensor([[0.0, 0.0]]), torch.tensor([[0.5, 0.0]]))
    tensor([1.0986])
    """
    with _no_autocast(x):
        x, y = _upcast_pair(x, y)
        squared = (x - y).pow(2).sum(dim=-1)
        return _geodesic_distance(squared, x.pow(2).sum(dim=-1), y.pow(2).sum(dim=-1), _curvature(c, x))


def pairwise_poincare_distance(a: torch.Tensor, b: torch.Tensor, c: float | torch.Tensor = 1.0) -> torch.Tensor:
    """Geodesic distance of every row of ``a`` to every row of ``b``.

    The closed form (module docstring) on the Gram matrix ``a @ b.T``: memory
    O(n m), where geoopt's broadcast distance needs several (n, m, d) tensors
    (n=256, m=4096, d=256 on a busy 2-core CPU: 26-47 ms against 4-8 s and
    3 GB of peak memory, ``benchmarks/bench_hyperbolic.py``). Like
    ``torch.cdist``, squared distances come from ``||x||^2 + ||y||^2 - 2 x.y``,
    so distances below about 1e-3 (float32) are rounding noise; identical rows
    get a distance at that noise level and a zero gradient.

    Parameters
    ----------
    a : Tensor of shape (n, d)
    b : Tensor of shape (m, d)
        Points on the ball of curvature ``-c``.
    c : float or Tensor, default=1.0

    Returns
    -------
    d : Tensor of shape (n, m)
        Float32 (float64 for float64 input).

    Examples
    --------
    >>> import torch
    >>> a = torch.tensor([[0.0, 0.0], [0.5, 0.0]])
    >>> pairwise_poincare_distance(a, a)
    tensor([[0.0000, 1.0986],
            [1.0986, 0.0000]])
    """
    with _no_autocast(a):
        a, b = _upcast_pair(a, b)
        a2 = a.pow(2).sum(dim=1, keepdim=True)
        b2 = b.pow(2).sum(dim=1, keepdim=True).T
        squared = (a2 + b2 - 2 * a @ b.T).clamp_min(0)
        return _geodesic_distance(squared, a2, b2, _curvature(c, a))


def poincare_similarity(a: torch.Tensor, b: torch.Tensor, c: float | torch.Tensor = 1.0) -> torch.Tensor:
    """Similarity of every row of ``a`` to every row of ``b`` on the ball: minus the geodesic distance.

    Same call shape as :func:`sklearn_hier.nn.distances.pairwise_similarity`
    (higher = closer), so rankings can use it in place of a Euclidean metric.

    Parameters
    ----------
    a, b, c
        As in :func:`pairwise_poincare_distance`. Rankings depend on ``c``
        only through ``sqrt(c) * a`` and ``sqrt(c) * b``.

    Returns
    -------
    sim : Tensor of shape (n, m)
        Rows outside the ball give meaningless (possibly infinite) values:
        check input once with :func:`check_in_ball`.

    Examples
    --------
    >>> import torch
    >>> a = torch.tensor([[0.0, 0.0], [0.5, 0.0], [0.9, 0.0]])
    >>> poincare_similarity(a[:1], a)
    tensor([[-0.0000, -1.0986, -2.9444]])
    """
    return -pairwise_poincare_distance(a, b, c)


def _is_real(value: object) -> bool:
    # numbers.Real covers Python and numpy scalars; bool is an int to Python, but no curvature or norm.
    return isinstance(value, Real) and not isinstance(value, bool | np.bool_)


def _shown(value: object) -> str:
    return f"{value!r} ({type(value).__name__})"


def check_ball_options(
    c: object, learn_curvature: object, clip_norm: object, eps: object, prefix: str = ""
) -> tuple[float, bool, float | None, float | None]:
    """The options of :class:`PoincareEmbedding` checked by type and range, as Python floats and a bool.

    Each message names the option (with ``prefix``, e.g. ``"geometry__"``) and
    the values it accepts. Numpy scalars are accepted as the numbers they are.
    ``eps`` must be at least ``MIN_EPS`` (1e-6): the map computes in float32,
    where a smaller margin puts points within a few roundings of the boundary
    and distances become infinite (measured: ``eps=1e-7`` gave an infinite loss
    by the third epoch on features of norm 100 with ``clip_norm=None``;
    ``3e-7`` did not).

    Examples
    --------
    >>> import numpy as np
    >>> check_ball_options(np.float32(0.5), False, 1, None)
    (0.5, False, 1.0, None)
    >>> check_ball_options(1.0, "yes", 1.0, None)
    Traceback (most recent call last):
    ...
    ValueError: learn_curvature must be True or False; got 'yes' (str).
    """
    if not (_is_real(c) and math.isfinite(c) and c > MIN_CURVATURE):
        raise ValueError(
            f"{prefix}c must be a finite real number above {MIN_CURVATURE} (the ball has curvature -c); "
            f"got {_shown(c)}."
        )
    if not isinstance(learn_curvature, bool | np.bool_):
        raise ValueError(f"{prefix}learn_curvature must be True or False; got {_shown(learn_curvature)}.")
    if clip_norm is not None and not (_is_real(clip_norm) and math.isfinite(clip_norm) and clip_norm > 0):
        raise ValueError(f"{prefix}clip_norm must be a positive finite real number or None; got {_shown(clip_norm)}.")
    if eps is not None and not (_is_real(eps) and MIN_EPS <= eps < 1):
        raise ValueError(
            f"{prefix}eps must be a real number in [{MIN_EPS}, 1) or None (a margin by dtype); got {_shown(eps)}. "
            "Below 1e-06, float32 points lie within a few roundings of the ball's boundary, where distances are "
            "infinite."
        )
    return (
        float(c),
        bool(learn_curvature),
        None if clip_norm is None else float(clip_norm),
        None if eps is None else float(eps),
    )


def tangent_reach(c: float, eps: float) -> float:
    """The longest tangent vector at the origin that the ball keeps: ``artanh(1 - eps) / sqrt(c)``.

    Features longer than this are mapped to the projection margin, all at one
    norm: their lengths are lost, and the logarithmic map gives them back no
    longer than this. It is what heads reading ``logmap0`` can see.

    Examples
    --------
    >>> round(tangent_reach(1.0, 4e-3), 3), round(tangent_reach(100.0, 4e-3), 3)
    (3.106, 0.311)
    """
    return math.atanh(1 - eps) / math.sqrt(c)


class PoincareEmbedding(nn.Module):
    """Map Euclidean features onto the Poincaré ball: norm clipping, then the exponential map at 0.

    ``forward(x) = project(exp0(min(1, clip_norm / ||x||) x))``. Clipping the
    feature norm first (Guo et al., 2022) keeps points away from the boundary,
    where gradients vanish; the projection to norm ``(1 - eps) / sqrt(c)`` is a
    last guard. The computation runs in float32 with autocast disabled; the
    output is float32 (float64 for float64 input).

    Parameters
    ----------
    c : float, default=1.0
        Initial curvature magnitude; the ball has curvature ``-c``, ``c > 0``.
    learn_curvature : bool, default=False
        Whether ``c`` is learned. It is parametrised as
        ``c = MIN_CURVATURE + softplus(raw_curvature)`` (``MIN_CURVATURE`` = 1e-5),
        so it stays positive under any update, even where softplus underflows
        to 0 in float32; ``raw_curvature`` is a Euclidean parameter and trains
        with any optimizer (no Riemannian optimizer is needed: no parameter
        lives on the ball).
    clip_norm : float or None, default=1.0
        Largest Euclidean feature norm before the exponential map; None turns
        clipping off (features longer than ``15 / sqrt(c)`` still land on the
        boundary, their direction kept).
    eps : float or None, default=None
        Projection margin, in [1e-6, 1); None picks :func:`boundary_eps` of
        the input's dtype (and autocast state) at each call. Options are
        checked by :func:`check_ball_options` (numpy scalars are accepted).

    Attributes
    ----------
    raw_curvature : torch.nn.Parameter
        0-d; trainable only when ``learn_curvature=True``.

    Examples
    --------
    >>> import torch
    >>> embed = PoincareEmbedding(c=1.0, clip_norm=1.0)
    >>> y = embed(torch.tensor([[30.0, 40.0], [0.3, 0.4]]))
    >>> y
    tensor([[0.4570, 0.6093],
            [0.2773, 0.3697]])
    >>> embed.logmap0(y)  # back in the tangent space: the clipped features
    tensor([[0.6000, 0.8000],
            [0.3000, 0.4000]])
    """

    def __init__(
        self, c: float = 1.0, *, learn_curvature: bool = False, clip_norm: float | None = 1.0, eps: float | None = None
    ) -> None:
        super().__init__()
        c, learn_curvature, clip_norm, eps = check_ball_options(c, learn_curvature, clip_norm, eps)
        excess = c - MIN_CURVATURE
        # The inverse of softplus, written so that it neither overflows nor cancels for any excess > 0.
        raw = excess + math.log(-math.expm1(-excess))
        self.raw_curvature = nn.Parameter(torch.tensor(raw), requires_grad=learn_curvature)
        self.clip_norm = clip_norm
        self.eps = eps

    @property
    def curvature(self) -> torch.Tensor:
        """The magnitude ``c > 0`` (a 0-d tensor, differentiable when learned)."""
        return MIN_CURVATURE + F.softplus(self.raw_curvature)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        eps = boundary_eps(x.dtype, x.device.type) if self.eps is None else self.eps
        with _no_autocast(x):
            x = _upcast(x)
            if self.clip_norm is not None:
                x = _clip_norm(x, self.clip_norm)
            return expmap0(x, self.curvature, eps=eps)

    def logmap0(self, y: torch.Tensor) -> torch.Tensor:
        """Tangent vectors at the origin for ball points ``y`` (what classification heads take)."""
        return logmap0(y, self.curvature)

    def extra_repr(self) -> str:
        c = float(self.curvature.detach())
        return (
            f"c={c:.4g}, learn_curvature={self.raw_curvature.requires_grad}, clip_norm={self.clip_norm}, eps={self.eps}"
        )
