"""Time and peak memory of MNR, NDCG and RP@5 on N = 10k and 50k clips (256-d embeddings).

Ours: the three public functions one by one, and ``hierarchical_retrieval_scores``
(all three from one ranking pass, what ``hierarchy_scorers`` uses). Against the
dense route a user would take without the library: ``sklearn.metrics.ndcg_score``
on the full N x (N - 1) relevance and similarity matrices (float64), and
torchmetrics' retrieval metrics when torchmetrics is installed. Ratios are
dense / ours, from the same run. The dense route is skipped where its two
N x N float64 matrices alone exceed the machine's memory (about 40 GB at 50k).

Every measurement runs in a fresh process, so the peak resident memory it
reports (``ru_maxrss``: the whole process, PyTorch and the data included) is
its own; "added" is that peak minus the resident memory when the call began.
"load" is the 1-minute load average when the call ended: the cores are shared
with whatever else runs, and the times scale with it. On a
CUDA machine the script also times ours on the GPU (peak = the largest CUDA
allocation). The labels follow an OrchideaSOL-like tree (5 families, ~200
leaves of uneven sizes); the embeddings are the sum of per-node offsets plus
noise.

Run: python benchmarks/bench_metrics.py [--sizes 10000 50000]
"""

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time

import numpy as np
import torch

METHODS = ("mnr", "ndcg", "rp5", "one_pass", "dense_sklearn", "torchmetrics")
DIM = 256


def orchidea_like(n, seed=0):
    """Label paths of an OrchideaSOL-like tree and 256-d float32 embeddings that roughly follow it."""
    rng = np.random.default_rng(seed)
    leaves = []
    for f, n_instruments in enumerate([3, 3, 2, 4, 4]):
        for i in range(n_instruments):
            for m in range(int(rng.integers(1, 4))):
                leaves += [f"F{f}/I{f}{i}/M{m}/T{t}" for t in range(int(rng.integers(3, 10)))]
    weights = rng.dirichlet(np.full(len(leaves), 0.7))
    y = np.array(leaves, dtype=object)[rng.choice(len(leaves), size=n, p=weights)]
    offsets = {}
    for leaf in leaves:
        parts = leaf.split("/")
        for depth in range(1, 5):
            offsets.setdefault("/".join(parts[:depth]), rng.normal(scale=1.0 / depth, size=DIM))
    centre = {leaf: sum(offsets["/".join(leaf.split("/")[:d])] for d in range(1, 5)) for leaf in leaves}
    X = np.stack([centre[label] for label in y]) + rng.normal(scale=1.0, size=(n, DIM))
    return X.astype(np.float32), y


def dense_inputs(X, y):
    """The N x (N - 1) gains (LCA depth / 4) and cosine similarities, the query itself left out."""
    from sklearn_hier.taxonomy import Taxonomy

    tax = Taxonomy.from_y(y)
    leaf = tax.encode(y)
    gains = tax.lca_depth_matrix(tax.leaves, tax.leaves)[leaf][:, leaf] / tax.depth
    Z = X.astype(np.float64)
    Z /= np.linalg.norm(Z, axis=1, keepdims=True)
    sims = Z @ Z.T
    keep = ~np.eye(len(y), dtype=bool)
    return gains[keep].reshape(len(y), -1), sims[keep].reshape(len(y), -1)


def run_one(method, n, device):
    """Measure one method in this process; returns a dict printed as JSON."""
    from sklearn_hier.metrics import (
        hierarchical_ndcg_score,
        hierarchical_retrieval_scores,
        mean_normalized_rank,
        precision_at_k,
    )

    X, y = orchidea_like(n)
    emb = torch.from_numpy(X).to(device)
    calls = {
        "mnr": lambda: mean_normalized_rank(emb, y),
        "ndcg": lambda: hierarchical_ndcg_score(emb, y),
        "rp5": lambda: precision_at_k(emb, y, k=5),
        "one_pass": lambda: hierarchical_retrieval_scores(emb, y, k=5)["ndcg"],
    }
    if method == "dense_sklearn":
        from sklearn.metrics import ndcg_score

        def dense():
            gains, sims = dense_inputs(X, y)
            return ndcg_score(gains, sims)

        calls[method] = dense
    if method == "torchmetrics":
        calls[method] = torchmetrics_ndcg(X, y, device)
    if device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    resident = current_resident()
    start = time.perf_counter()
    value = calls[method]()
    if device.type == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    peak = torch.cuda.max_memory_allocated() if device.type == "cuda" else resource_peak()
    added = peak if device.type == "cuda" else max(0, peak - resident)
    return {
        "method": method,
        "n": n,
        "device": device.type,
        "load": os.getloadavg()[0],
        "seconds": seconds,
        "peak_bytes": peak,
        "added_bytes": added,
        "value": value,
    }


def torchmetrics_ndcg(X, y, device):
    from torchmetrics.functional.retrieval import retrieval_normalized_dcg

    def dense():
        gains, sims = (torch.from_numpy(a).to(device) for a in dense_inputs(X, y))
        return float(torch.stack([retrieval_normalized_dcg(s, g) for s, g in zip(sims, gains, strict=True)]).mean())

    return dense


def current_resident():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def resource_peak():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # kilobytes on Linux


def measure(method, n, device):
    cmd = [sys.executable, __file__, "--worker", method, str(n), device]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        return {"method": method, "n": n, "device": device, "error": done.stderr.strip().splitlines()[-1]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def dense_fits(n):
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return 2 * 8 * n * n < 0.8 * total, total


def report(rows, device):
    print(f"\n{'N':>7} {'method':<15} {'time (s)':>9} {'peak (GB)':>10} {'added (GB)':>11} {'value':>9} {'load':>5}")
    for row in rows:
        if "skipped" in row or "error" in row:
            print(f"{row['n']:>7} {row['method']:<15} {row.get('skipped') or row.get('error')}")
            continue
        gb, added = row["peak_bytes"] / 2**30, row["added_bytes"] / 2**30
        print(
            f"{row['n']:>7} {row['method']:<15} {row['seconds']:>9.2f} {gb:>10.2f} {added:>11.2f} "
            f"{row['value']:>9.5f} {row['load']:>5.1f}"
        )
    by = {(r["n"], r["method"]): r for r in rows if "seconds" in r}
    for n in sorted({r["n"] for r in rows}):
        ours = by.get((n, "ndcg"))
        three = [by.get((n, m)) for m in ("mnr", "ndcg", "rp5")]
        if all(three):
            print(f"N={n} ({device}): three calls {sum(r['seconds'] for r in three):.1f} s; ", end="")
            print(f"one pass {by[(n, 'one_pass')]['seconds']:.1f} s" if (n, "one_pass") in by else "")
        for dense in ("dense_sklearn", "torchmetrics"):
            if ours and (n, dense) in by:
                d = by[(n, dense)]
                print(
                    f"N={n} NDCG, {dense} / ours: time x{d['seconds'] / ours['seconds']:.1f}, "
                    f"peak memory x{d['peak_bytes'] / ours['peak_bytes']:.1f} "
                    f"(added x{d['added_bytes'] / max(ours['added_bytes'], 1):.1f}), "
                    f"values differ by {abs(d['value'] - ours['value']):.1e}"
                )


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 50_000])
    parser.add_argument("--worker", nargs=3, metavar=("METHOD", "N", "DEVICE"))
    args = parser.parse_args()
    if args.worker:
        method, n, device = args.worker
        print(json.dumps(run_one(method, int(n), torch.device(device))))
        return
    try:
        import torchmetrics  # noqa: F401

        has_torchmetrics = True
    except ImportError:
        has_torchmetrics = False
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    print(
        f"machine: {os.cpu_count()}-core CPU, {platform.machine()}; torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads; GPU: {torch.cuda.get_device_name() if 'cuda' in devices else 'none'}"
    )
    for device in devices:
        rows = []
        for n in args.sizes:
            for method in METHODS:
                fits, total = dense_fits(n)
                if method == "torchmetrics" and not has_torchmetrics:
                    rows.append({"method": method, "n": n, "skipped": "not installed"})
                elif method in ("dense_sklearn", "torchmetrics") and not fits:
                    need = 2 * 8 * n * n / 2**30
                    rows.append(
                        {
                            "method": method,
                            "n": n,
                            "skipped": f"not run: needs > {need:.0f} GB, machine has {total / 2**30:.0f} GB",
                        }
                    )
                elif method == "dense_sklearn" and device == "cuda":
                    continue
                else:
                    rows.append(measure(method, n, device))
                    print(rows[-1], flush=True)
        report(rows, device)


if __name__ == "__main__":
    main()
