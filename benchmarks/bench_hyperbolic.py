"""Poincaré-ball maths: our closed forms against geoopt's (distances, and graph breaks under torch.compile).

Why ``pairwise_poincare_distance`` is not a call to geoopt: ``PoincareBall.dist``
takes paired rows, so an (n, m) block needs ``x[:, None]`` against ``y[None]``,
and its Möbius addition materialises several (n, m, d) tensors. The closed form
``arcosh(1 + 2c||x - y||^2 / ((1 - c||x||^2)(1 - c||y||^2)))`` needs only the
Gram matrix. For each method, in a fresh process: the best of 3 times, the peak
resident memory the call added (``ru_maxrss``), and the largest error against
the float64 closed form (points drawn up to norm 0.99 of the unit ball, float32
input). The paired rows ("_paired": m pairs, the first point of ``a`` against
every point of ``b``) show the float32 accuracy of the paired distance.

Graph breaks: ``torch._dynamo.explain`` on exp0 -> distance -> log0, geoopt's
``PoincareBall`` methods against ours. geoopt's maps branch on the sign of the
curvature (``if torch.all(...)``), which breaks the graph (and synchronises
with the host on a GPU).
"load" is the 1-minute load average at the end: the cores are shared.

Run: python benchmarks/bench_hyperbolic.py [--n 256 --m 4096 --d 256]
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import warnings

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _timing import best_of  # noqa: E402

METHODS = ("ours", "geoopt_broadcast", "ours_paired", "geoopt_paired")


def points(n, d, seed):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d, generator=g, dtype=torch.float64)
    return x / x.norm(dim=1, keepdim=True) * torch.rand(n, 1, generator=g, dtype=torch.float64) * 0.99


def one(method, n, m, d):
    from sklearn_hier.nn.hyperbolic import pairwise_poincare_distance, poincare_distance

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import geoopt

    a64, b64 = points(n, d, 0), points(m, d, 1)
    a, b = a64.float(), b64.float()
    ball = geoopt.PoincareBall(c=1.0)
    paired = a64[:1].expand(m, d)
    fn = {
        "ours": lambda: pairwise_poincare_distance(a, b),
        "geoopt_broadcast": lambda: ball.dist(a[:, None, :], b[None, :, :]),
        "ours_paired": lambda: poincare_distance(paired.float(), b),
        "geoopt_paired": lambda: ball.dist(paired.float(), b),
    }[method]
    reference = poincare_distance(paired, b64) if method.endswith("paired") else pairwise_poincare_distance(a64, b64)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    result = fn()
    added_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    seconds = best_of(fn)
    error = float((result.double() - reference).abs().max())
    return {"method": method, "seconds": seconds, "peak_added_mb": added_mb, "max_abs_error": error}


def graph_breaks():
    """Graph breaks of exp0 -> pairwise distance -> log0, geoopt's and ours."""
    from torch import _dynamo

    from sklearn_hier.nn.hyperbolic import expmap0, logmap0, pairwise_poincare_distance

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import geoopt

    ball = geoopt.PoincareBall(c=1.0)

    def theirs(v):
        y = ball.expmap0(v)
        return ball.dist(y[:, None], y[None]), ball.logmap0(y)

    def ours(v):
        y = expmap0(v)
        return pairwise_poincare_distance(y, y), logmap0(y)

    v = torch.randn(8, 4)
    return {name: _dynamo.explain(fn)(v).graph_break_count for name, fn in (("geoopt", theirs), ("ours", ours))}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=256)
    parser.add_argument("--m", type=int, default=4096)
    parser.add_argument("--d", type=int, default=256)
    parser.add_argument("--method", choices=METHODS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.method:
        print(json.dumps(one(args.method, args.n, args.m, args.d)))
        return
    print(f"n={args.n} m={args.m} d={args.d}, float32, torch threads={torch.get_num_threads()}")
    for method in METHODS:
        command = [sys.executable, __file__, "--method", method, "--n", str(args.n), "--m", str(args.m)]
        out = subprocess.run([*command, "--d", str(args.d)], capture_output=True, text=True, check=True).stdout
        row = json.loads(out.strip().splitlines()[-1])
        print(
            f"{row['method']:>17}: {row['seconds'] * 1e3:8.1f} ms, peak +{row['peak_added_mb']:7.0f} MB, "
            f"max |error| {row['max_abs_error']:.1e}, load {os.getloadavg()[0]:.1f}"
        )
    print("graph breaks of exp0 -> distance -> log0 under torch.compile:", graph_breaks())


if __name__ == "__main__":
    main()
