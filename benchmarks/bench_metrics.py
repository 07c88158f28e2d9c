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

Label sets (``--labels``): "paths" is the data above; "sets" gives each clip 3
distinct leaves of the same tree (drawn with the leaves' weights) and random
256-d embeddings; "one" gives each clip the first of those 3 leaves, as a path,
with the same embeddings: the single-label time the label-set time is compared
with (ratios sets / one, per metric, from the same run). Each (method, labels)
pair can be measured ``--repeat`` times, interleaved, and the fastest kept, so
that a burst of load on shared cores does not land on one side only.

Run: python benchmarks/bench_metrics.py [--sizes 10000 50000] [--labels paths one sets]
     [--methods mnr ndcg rp5 one_pass] [--threads 1] [--repeat 1]
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
LABELS = ("paths", "one", "sets")
DIM = 256
LABELS_PER_CLIP = 3


def _orchidea_tree(rng):
    """Leaves of an OrchideaSOL-like tree (5 families, ~200 leaves) and their Dirichlet weights."""
    leaves = []
    for f, n_instruments in enumerate([3, 3, 2, 4, 4]):
        for i in range(n_instruments):
            for m in range(int(rng.integers(1, 4))):
                leaves += [f"F{f}/I{f}{i}/M{m}/T{t}" for t in range(int(rng.integers(3, 10)))]
    return leaves, rng.dirichlet(np.full(len(leaves), 0.7))


def orchidea_like(n, seed=0):
    """Label paths of an OrchideaSOL-like tree and 256-d float32 embeddings that roughly follow it."""
    rng = np.random.default_rng(seed)
    leaves, weights = _orchidea_tree(rng)
    y = np.array(leaves, dtype=object)[rng.choice(len(leaves), size=n, p=weights)]
    offsets = {}
    for leaf in leaves:
        parts = leaf.split("/")
        for depth in range(1, 5):
            offsets.setdefault("/".join(parts[:depth]), rng.normal(scale=1.0 / depth, size=DIM))
    centre = {leaf: sum(offsets["/".join(leaf.split("/")[:d])] for d in range(1, 5)) for leaf in leaves}
    X = np.stack([centre[label] for label in y]) + rng.normal(scale=1.0, size=(n, DIM))
    return X.astype(np.float32), y


def label_set_data(n, labels, seed=0):
    """Random 256-d float32 embeddings, and 3 distinct leaves per clip: as sets ("sets") or the first ("one")."""
    rng = np.random.default_rng(seed)
    leaves, weights = _orchidea_tree(rng)
    # Weighted draws without replacement: the 3 largest of log(weight) + Gumbel noise (Gumbel top-k).
    keys = np.log(weights) + rng.gumbel(size=(n, len(leaves)))
    top = np.argsort(-keys, axis=1)[:, :LABELS_PER_CLIP]
    names = np.array(leaves, dtype=object)
    y = [frozenset(names[row].tolist()) for row in top] if labels == "sets" else names[top[:, 0]]
    return rng.standard_normal((n, DIM)).astype(np.float32), y


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


def run_one(method, n, device, labels="paths"):
    """Measure one method in this process; returns a dict printed as JSON."""
    from sklearn_hier.metrics import (
        hierarchical_ndcg_score,
        hierarchical_retrieval_scores,
        mean_normalized_rank,
        precision_at_k,
    )

    X, y = orchidea_like(n) if labels == "paths" else label_set_data(n, labels)
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
    load_start = os.getloadavg()[0]
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
        "labels": labels,
        "device": device.type,
        "threads": torch.get_num_threads(),
        "load_start": load_start,
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


def measure(method, n, device, labels="paths", threads=None):
    cmd = [sys.executable, __file__, "--worker", method, str(n), device, "--labels", labels]
    cmd += ["--threads", str(threads)] if threads else []
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        error = done.stderr.strip().splitlines()[-1]
        return {"method": method, "n": n, "labels": labels, "device": device, "error": error}
    return json.loads(done.stdout.strip().splitlines()[-1])


def dense_fits(n):
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return 2 * 8 * n * n < 0.8 * total, total


def report(rows, device):
    print(
        f"\n{'N':>7} {'labels':<6} {'method':<15} {'time (s)':>9} {'peak (GB)':>10} {'added (GB)':>11} "
        f"{'value':>9} {'load':>9}"
    )
    for row in rows:
        labels = row.get("labels", "paths")
        if "skipped" in row or "error" in row:
            print(f"{row['n']:>7} {labels:<6} {row['method']:<15} {row.get('skipped') or row.get('error')}")
            continue
        gb, added = row["peak_bytes"] / 2**30, row["added_bytes"] / 2**30
        print(
            f"{row['n']:>7} {labels:<6} {row['method']:<15} {row['seconds']:>9.2f} {gb:>10.2f} {added:>11.2f} "
            f"{row['value']:>9.5f} {row['load_start']:>4.1f}-{row['load']:<4.1f}"
        )
    by = {}
    for r in rows:  # the fastest of repeated measurements
        key = (r["n"], r.get("labels", "paths"), r["method"])
        if "seconds" in r and (key not in by or r["seconds"] < by[key]["seconds"]):
            by[key] = r
    for n in sorted({r["n"] for r in rows}):
        _report_paths(n, {m: r for (size, labels, m), r in by.items() if size == n and labels == "paths"}, device)
        ratios = [
            f"{m} x{by[(n, 'sets', m)]['seconds'] / by[(n, 'one', m)]['seconds']:.2f}"
            for m in METHODS
            if (n, "sets", m) in by and (n, "one", m) in by
        ]
        if ratios:
            print(f"N={n} ({device}) time, {LABELS_PER_CLIP} labels per clip / one label per clip: {', '.join(ratios)}")


def _report_paths(n, by, device):
    ours = by.get("ndcg")
    three = [by.get(m) for m in ("mnr", "ndcg", "rp5")]
    if all(three):
        print(f"N={n} ({device}): three calls {sum(r['seconds'] for r in three):.1f} s; ", end="")
        print(f"one pass {by['one_pass']['seconds']:.1f} s" if "one_pass" in by else "")
    for dense in ("dense_sklearn", "torchmetrics"):
        if ours and dense in by:
            d = by[dense]
            print(
                f"N={n} NDCG, {dense} / ours: time x{d['seconds'] / ours['seconds']:.1f}, "
                f"peak memory x{d['peak_bytes'] / ours['peak_bytes']:.1f} "
                f"(added x{d['added_bytes'] / max(ours['added_bytes'], 1):.1f}), "
                f"values differ by {abs(d['value'] - ours['value']):.1e}"
            )


def plan(n, method, labels, device, has_torchmetrics):
    """Why (method, labels) is not run at N, or None when it is."""
    fits, total = dense_fits(n)
    dense = method in ("dense_sklearn", "torchmetrics")
    if dense and labels != "paths":
        return "silent: the dense routes take the paths"
    if method == "torchmetrics" and not has_torchmetrics:
        return "not installed"
    if dense and not fits:
        return f"not run: needs > {2 * 8 * n * n / 2**30:.0f} GB, machine has {total / 2**30:.0f} GB"
    if method == "dense_sklearn" and device == "cuda":
        return "silent: sklearn runs on the CPU"
    return None


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 50_000])
    parser.add_argument("--labels", nargs="+", choices=LABELS, default=list(LABELS))
    parser.add_argument("--methods", nargs="+", choices=METHODS, default=list(METHODS))
    parser.add_argument("--threads", type=int, help="torch threads in each measurement (default: torch's)")
    parser.add_argument(
        "--repeat", type=int, default=1, help="measurements of each (method, labels); the fastest counts"
    )
    parser.add_argument("--worker", nargs=3, metavar=("METHOD", "N", "DEVICE"))
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.worker:
        method, n, device = args.worker
        print(json.dumps(run_one(method, int(n), torch.device(device), args.labels[0])))
        return
    try:
        import torchmetrics  # noqa: F401

        has_torchmetrics = True
    except ImportError:
        has_torchmetrics = False
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    print(
        f"machine: {os.cpu_count()}-core CPU, {platform.machine()}; torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads; GPU: {torch.cuda.get_device_name() if 'cuda' in devices else 'none'}; "
        f"load {os.getloadavg()}"
    )
    for device in devices:
        rows = []
        for n in args.sizes:
            for method in args.methods:
                for _ in range(args.repeat):
                    for labels in args.labels:
                        why = plan(n, method, labels, device, has_torchmetrics)
                        if why is None:
                            rows.append(measure(method, n, device, labels, args.threads))
                            print(rows[-1], flush=True)
                        elif not why.startswith("silent") and not any(
                            r["method"] == method and r["n"] == n and r.get("labels") == labels for r in rows
                        ):
                            rows.append({"method": method, "n": n, "labels": labels, "skipped": why})
        report(rows, device)


if __name__ == "__main__":
    main()
