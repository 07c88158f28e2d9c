import math
import pickle
import warnings

import numpy as np
import pytest
import torch

from sklearn_hier.nn.hyperbolic import (
    HALF_PRECISION_EPS,
    PoincareEmbedding,
    boundary_eps,
    check_in_ball,
    expmap0,
    logmap0,
    pairwise_poincare_distance,
    poincare_distance,
    poincare_similarity,
)

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import geoopt

CURVATURES = [0.3, 1.0, 2.5]


def _geoopt_ball(c):
    # A float64 curvature: geoopt's default float32 c would differ from ours by 1e-8.
    return geoopt.PoincareBall(c=torch.tensor(c, dtype=torch.float64))


def _ball_points(n, d, c, seed=0, max_norm=0.95):
    """float64 points of the ball of curvature -c, spread from the origin to near the boundary."""
    rng = np.random.default_rng(seed)
    direction = rng.normal(size=(n, d))
    direction /= np.linalg.norm(direction, axis=1, keepdims=True)
    radius = rng.uniform(0, max_norm, size=(n, 1)) / math.sqrt(c)
    return torch.as_tensor(direction * radius)


def _closed_form_distance(x, y, c):
    """The beyond-notes formula, scaled to curvature -c, on float64 numpy vectors."""
    sq = np.sum((x - y) ** 2)
    return np.arccosh(1 + 2 * c * sq / ((1 - c * np.sum(x**2)) * (1 - c * np.sum(y**2)))) / math.sqrt(c)


def _assert_inside(y, c, eps):
    norms = y.detach().double().norm(dim=-1)
    assert bool(torch.isfinite(y).all())
    # float32 norms of 2**17 coordinates carry a relative rounding error of a few 1e-6.
    assert float(norms.max()) <= (1 - eps) / math.sqrt(c) * (1 + 1e-5)


# --- the maps against closed forms and geoopt -------------------------------------------------


@pytest.mark.parametrize("c", CURVATURES)
def test_expmap0_matches_closed_form_and_geoopt(c):
    v = torch.randn(20, 7, dtype=torch.float64, generator=torch.Generator().manual_seed(1)) * 0.8
    norm = v.norm(dim=1, keepdim=True)
    expected = torch.tanh(math.sqrt(c) * norm) * v / (math.sqrt(c) * norm)
    got = expmap0(v, c)
    assert got.dtype == torch.float64
    torch.testing.assert_close(got, expected, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(got, _geoopt_ball(c).expmap0(v), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("c", CURVATURES)
def test_logmap0_matches_closed_form_and_geoopt(c):
    y = _ball_points(20, 7, c)
    norm = y.norm(dim=1, keepdim=True)
    expected = torch.atanh(math.sqrt(c) * norm) * y / (math.sqrt(c) * norm)
    torch.testing.assert_close(logmap0(y, c), expected, rtol=1e-9, atol=1e-12)
    torch.testing.assert_close(logmap0(y, c), _geoopt_ball(c).logmap0(y), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("c", CURVATURES)
def test_exp_log_round_trip(c):
    v = torch.randn(30, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    v = v / v.norm(dim=1, keepdim=True) * torch.linspace(0.0, 2.0, 30, dtype=torch.float64)[:, None] / math.sqrt(c)
    torch.testing.assert_close(logmap0(expmap0(v, c), c), v, rtol=1e-7, atol=1e-10)
    y = _ball_points(30, 5, c, seed=3)
    torch.testing.assert_close(expmap0(logmap0(y, c), c), y, rtol=1e-9, atol=1e-12)


def test_expmap0_projects_to_the_margin():
    y = expmap0(torch.tensor([[100.0, 0.0]]), c=4.0)
    torch.testing.assert_close(y, torch.tensor([[(1 - 4e-3) / 2, 0.0]]))
    y = expmap0(torch.tensor([[100.0, 0.0]]), c=4.0, eps=0.1)
    torch.testing.assert_close(y, torch.tensor([[0.45, 0.0]]))


# --- distances ----------------------------------------------------------------------------------


@pytest.mark.parametrize("c", CURVATURES)
def test_paired_distance_matches_closed_form_and_geoopt(c):
    x, y = _ball_points(25, 6, c, seed=4), _ball_points(25, 6, c, seed=5)
    expected = torch.tensor([_closed_form_distance(xi, yi, c) for xi, yi in zip(x.numpy(), y.numpy(), strict=True)])
    got = poincare_distance(x, y, c)
    torch.testing.assert_close(got, expected.to(got.dtype), rtol=1e-9, atol=1e-9)
    torch.testing.assert_close(got, _geoopt_ball(c).dist(x, y), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("c", CURVATURES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_pairwise_distance_matches_a_double_loop_and_geoopt(c, dtype):
    a, b = _ball_points(9, 5, c, seed=6), _ball_points(13, 5, c, seed=7)
    expected = np.array([[_closed_form_distance(x, y, c) for y in b.numpy()] for x in a.numpy()])
    got = pairwise_poincare_distance(a.to(dtype), b.to(dtype), c)
    assert got.shape == (9, 13) and got.dtype == dtype
    tol = 1e-9 if dtype == torch.float64 else 1e-3
    np.testing.assert_allclose(got.numpy(), expected, rtol=tol, atol=tol)
    broadcast = _geoopt_ball(c).dist(a[:, None, :], b[None, :, :])
    torch.testing.assert_close(pairwise_poincare_distance(a, b, c), broadcast, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize(("dtype", "noise"), [(torch.float64, 1e-6), (torch.float32, 2e-3)])
def test_pairwise_distance_on_identical_rows_is_rounding_noise(dtype, noise):
    a = _ball_points(6, 4, 1.0, seed=8).to(dtype)
    d = pairwise_poincare_distance(a, a)
    assert float(torch.diagonal(d).abs().max()) < noise
    assert float((d + torch.eye(6)).min()) > 10 * noise
    torch.testing.assert_close(d, d.T)


@pytest.mark.parametrize("c", [0.5, 1.0])
def test_poincare_similarity_is_minus_distance_brute_force(c):
    a, b = _ball_points(7, 3, c, seed=9), _ball_points(11, 3, c, seed=10)
    a32, b32 = a.float(), b.float()
    sim = poincare_similarity(a32, b32, c)
    an, bn = a32.double().numpy(), b32.double().numpy()
    expected = np.empty((7, 11))
    for i in range(7):
        for j in range(11):
            expected[i, j] = -_closed_form_distance(an[i], bn[j], c)
    assert sim.shape == (7, 11)
    np.testing.assert_allclose(sim.numpy(), expected, rtol=1e-4, atol=1e-3)
    # The ranking of each row is the brute force's.
    np.testing.assert_array_equal(np.argsort(-sim.numpy(), axis=1), np.argsort(-expected, axis=1))


def test_invalid_curvature_is_rejected():
    x = torch.zeros(2, 3)
    for c in (0.0, -1.0, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="curvature c must be a positive finite number"):
            pairwise_poincare_distance(x, x, c)
    for c in (-1.0, 0.0, 1e-6, float("inf")):
        with pytest.raises(ValueError, match="c must be a finite real number above 1e-05"):
            PoincareEmbedding(c=c)
    with pytest.raises(ValueError, match="clip_norm must be"):
        PoincareEmbedding(clip_norm=0.0)
    with pytest.raises(ValueError, match=r"eps must be a real number in \[1e-06, 1\)"):
        PoincareEmbedding(eps=1.0)


# --- the embedding module: extreme inputs, gradients, half precision ---------------------------

EXTREMES = {
    "huge": lambda: torch.full((4, 16), 1e30),
    "huge_negative": lambda: -torch.full((4, 16), 1e30),
    "mixed_huge": lambda: torch.tensor([[1e30, -1e30, 1.0, 0.0]]).repeat(3, 1),
    "zero": lambda: torch.zeros(4, 16),
    "tiny": lambda: torch.full((4, 16), 1e-30),
    "huge_dims": lambda: torch.full((2, 2**17), 1e30),
    "huge_dims_moderate": lambda: torch.randn(2, 2**17, generator=torch.Generator().manual_seed(0)) * 50,
}


@pytest.mark.parametrize("clip_norm", [1.0, None])
@pytest.mark.parametrize("learn_curvature", [False, True])
@pytest.mark.parametrize("name", sorted(EXTREMES))
def test_extreme_inputs_stay_inside_with_finite_gradients(name, clip_norm, learn_curvature):
    embed = PoincareEmbedding(c=1.5, learn_curvature=learn_curvature, clip_norm=clip_norm)
    x = EXTREMES[name]().requires_grad_(True)
    y = embed(x)
    _assert_inside(y, 1.5, 4e-3)
    loss = pairwise_poincare_distance(y, y.flip(0)).sum() + poincare_distance(y, y.roll(1, 0)).sum()
    loss = loss + embed.logmap0(y).pow(2).sum()
    assert bool(torch.isfinite(loss))
    loss.backward()
    assert bool(torch.isfinite(x.grad).all())
    if learn_curvature:
        assert bool(torch.isfinite(embed.raw_curvature.grad))


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
@pytest.mark.parametrize("name", ["huge", "mixed_huge", "zero", "huge_dims_moderate"])
def test_extreme_half_precision_inputs_under_autocast(name, dtype):
    embed = PoincareEmbedding(c=1.0, learn_curvature=True, clip_norm=None)
    x = EXTREMES[name]().clamp(-6e4, 6e4).to(dtype).requires_grad_(True)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y = embed(x)
        loss = pairwise_poincare_distance(y, y.flip(0)).sum() + embed.logmap0(y).pow(2).sum()
    assert y.dtype == torch.float32
    _assert_inside(y, 1.0, HALF_PRECISION_EPS)
    assert bool(torch.isfinite(loss))
    loss.backward()
    assert bool(torch.isfinite(x.grad).all()) and bool(torch.isfinite(embed.raw_curvature.grad))


def test_gradients_at_the_boundary_are_finite():
    # Points projected onto the margin: artanh / arcosh are steepest here.
    x = (torch.randn(8, 5, generator=torch.Generator().manual_seed(1)) * 1e3).requires_grad_(True)
    y = expmap0(x)
    assert torch.allclose(y.norm(dim=1), torch.full((8,), 1 - 4e-3))
    loss = pairwise_poincare_distance(y, y).sum() + poincare_distance(y[:4], y[4:]).sum() + logmap0(y).sum()
    loss.backward()
    assert bool(torch.isfinite(x.grad).all())
    # The points themselves (not the saturated map) receive finite, non-zero gradients.
    p = y.detach().requires_grad_(True)
    (pairwise_poincare_distance(p, p).sum() + poincare_distance(p[:4], p[4:]).sum()).backward()
    assert bool(torch.isfinite(p.grad).all()) and float(p.grad.abs().max()) > 0


def test_gradient_is_zero_at_coincident_points():
    p = _ball_points(5, 3, 1.0).requires_grad_(True)
    pairwise_poincare_distance(p, p.detach()).diagonal().sum().backward()
    assert torch.equal(p.grad, torch.zeros_like(p))
    p.grad = None
    d = poincare_distance(p, p.detach().clone())
    assert torch.equal(d, torch.zeros_like(d))
    d.sum().backward()
    assert torch.equal(p.grad, torch.zeros_like(p))


def test_bf16_autocast_computes_in_float32():
    embed = PoincareEmbedding(c=1.0, clip_norm=None)
    backbone = torch.nn.Linear(8, 6)
    x = torch.randn(5, 8, generator=torch.Generator().manual_seed(0)) * 1e3
    with torch.autocast("cpu", dtype=torch.bfloat16):
        features = backbone(x)
        assert features.dtype == torch.bfloat16
        y = embed(features)
        d = pairwise_poincare_distance(y, y)
        paired = poincare_distance(y[:2], y[2:4])
        v = embed.logmap0(y)
    assert y.dtype == d.dtype == paired.dtype == v.dtype == torch.float32
    # bf16 features: the larger margin, so the points survive a later cast to bf16.
    _assert_inside(y, 1.0, HALF_PRECISION_EPS)
    assert float(y.detach().bfloat16().float().norm(dim=1).max()) < 1
    # The same numbers as float32 maths on the bf16 features outside autocast.
    reference = PoincareEmbedding(c=1.0, clip_norm=None, eps=HALF_PRECISION_EPS)(features.float())
    torch.testing.assert_close(y, reference)
    torch.testing.assert_close(d, pairwise_poincare_distance(reference, reference))
    (d.sum() + paired.sum() + v.sum()).backward()
    assert bool(torch.isfinite(backbone.weight.grad).all())


def test_boundary_eps_by_dtype_and_autocast():
    assert boundary_eps(torch.float64) == 1e-5
    assert boundary_eps(torch.float32) == 4e-3
    assert boundary_eps(torch.float16) == boundary_eps(torch.bfloat16) == HALF_PRECISION_EPS
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert boundary_eps(torch.float32, "cpu") == HALF_PRECISION_EPS


def test_clipping_bounds_the_tangent_norm():
    embed = PoincareEmbedding(c=1.0, clip_norm=0.5)
    x = torch.tensor([[3.0, 4.0], [0.03, 0.04]])
    torch.testing.assert_close(embed.logmap0(embed(x)), torch.tensor([[0.3, 0.4], [0.03, 0.04]]))


def test_float64_stays_float64_and_input_is_untouched():
    x = torch.randn(4, 3, dtype=torch.float64) * 10
    before = x.clone()
    y = PoincareEmbedding(eps=1e-5, clip_norm=None)(x)
    assert y.dtype == torch.float64
    assert torch.equal(x, before)
    _assert_inside(y, 1.0, 1e-5)


def test_curvature_parametrisation():
    fixed = PoincareEmbedding(c=2.0)
    assert not any(p.requires_grad for p in fixed.parameters())
    assert float(fixed.curvature) == pytest.approx(2.0)
    learned = PoincareEmbedding(c=2.0, learn_curvature=True)
    params = [p for p in learned.parameters() if p.requires_grad]
    assert len(params) == 1
    optimizer = torch.optim.SGD(params, lr=1.0)
    # Steps that would push an unconstrained c far below zero: softplus keeps it positive.
    for _ in range(3):
        optimizer.zero_grad()
        (1e3 * learned.curvature).backward()
        optimizer.step()
    assert float(learned.raw_curvature.detach()) < -100  # softplus alone would be 0 in float32
    assert float(learned.curvature.detach()) == pytest.approx(1e-5)
    y = learned(torch.randn(6, 4) * 1e6)
    _assert_inside(y, float(learned.curvature.detach()), 4e-3)


def test_module_pickles_with_its_curvature():
    embed = PoincareEmbedding(c=0.7, learn_curvature=True, clip_norm=2.0)
    x = torch.randn(3, 4)
    clone = pickle.loads(pickle.dumps(embed))
    torch.testing.assert_close(clone(x), embed(x))
    assert float(clone.curvature.detach()) == pytest.approx(0.7)


def test_check_in_ball_names_the_row_outside():
    check_in_ball(_ball_points(5, 3, 2.0), c=2.0)
    points = torch.tensor([[0.1, 0.0], [0.0, 0.2], [0.6, 0.0]])
    check_in_ball(points, c=2.0)
    with pytest.raises(ValueError, match=r"curvature -4, of radius 1/sqrt\(c\) = 0\.5; row 2 has norm 0\.6\."):
        check_in_ball(points, c=4.0)
    with pytest.raises(ValueError, match="row 0 has norm nan"):
        check_in_ball(torch.tensor([[float("nan"), 0.0]]))
    check_in_ball(PoincareEmbedding(clip_norm=None)(torch.full((2, 4), 1e30)))


def test_compiles_as_one_graph():
    # fullgraph=True raises on a graph break (e.g. a branch on a tensor's value).
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(8, 4), PoincareEmbedding(learn_curvature=True))
    x = torch.randn(6, 8)

    def embed_and_measure(inputs):
        y = net(inputs)
        return y, pairwise_poincare_distance(y, y), poincare_distance(y[:3], y[3:]), logmap0(y)

    compiled = torch.compile(embed_and_measure, fullgraph=True, backend="eager")
    for got, expected in zip(compiled(x), embed_and_measure(x), strict=True):
        torch.testing.assert_close(got, expected)
