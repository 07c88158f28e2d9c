"""Throughput of the offline tree-triplet sampler and of the online miners.

Prints triplets per second for :class:`TreeTripletSampler` (one epoch per call)
next to a per-triplet Python loop in the style of the paper's reference code
(``random.choice`` on per-node clip lists), and mined triplets per second for
each :class:`HierarchicalTripletMiner` strategy.

Run: ``python benchmarks/bench_sampling.py [--device cuda] [--threads 1]``.
"""

from __future__ import annotations

import argparse
import platform
import random

import numpy as np
import torch
from _timing import best_rate

from sklearn_hier.nn.sampling import HierarchicalTripletMiner, TreeTripletSampler, _NodePools, _triplet_plan
from sklearn_hier.taxonomy import Taxonomy


def orchidea_shaped(rng: np.random.Generator, n_clips: int = 10_000) -> tuple[Taxonomy, np.ndarray]:
    """A tree with OrchideaSOL's level sizes (5 / 16 / 35 / 197) and ~10 k clips, >= 10 per leaf."""
    instruments = [4, 1, 2, 4, 5]  # per family
    mutes = _spread(rng, 35, 16)
    techniques = _spread(rng, 197, 35)
    paths, m, t = [], 0, 0
    for f, n_inst in enumerate(instruments):
        for i in range(n_inst):
            for _ in range(mutes[m]):
                paths += [f"F{f}/I{i}/M{m}/T{k}" for k in range(techniques[t])]
                t += 1
            m += 1
    tax = Taxonomy.from_paths(paths)
    per_leaf = 10 + rng.multinomial(n_clips - 10 * tax.n_leaves, rng.dirichlet(np.ones(tax.n_leaves)))
    return tax, rng.permutation(np.repeat(np.arange(tax.n_leaves), per_leaf))


def balanced(branching: int, depth: int, clips_per_leaf: int) -> tuple[Taxonomy, np.ndarray]:
    """A full tree of the given branching and depth."""
    paths = ["/".join(f"n{c}" for c in combo) for combo in np.ndindex(*(branching,) * depth)]
    tax = Taxonomy.from_paths(paths)
    return tax, np.repeat(np.arange(tax.n_leaves), clips_per_leaf)


def _spread(rng: np.random.Generator, total: int, parts: int) -> np.ndarray:
    return 1 + rng.multinomial(total - parts, np.ones(parts) / parts)


def reference_style(tax: Taxonomy, codes: np.ndarray, seed: int) -> callable:
    """One epoch as the reference code draws it: a Python loop with random.choice per triplet."""
    pools = _NodePools(tax, codes)
    node_a, node_p, node_n = _triplet_plan(tax, pools)
    members = {
        int(node): pools.order[pools.start[node] : pools.start[node] + pools.size[node]].tolist()
        for node in np.unique(np.concatenate([node_a, node_p, node_n]))
    }
    plan = list(zip(node_a.tolist(), node_p.tolist(), node_n.tolist(), strict=True))
    draw = random.Random(seed)

    def sample() -> list[tuple[int, int, int]]:
        triplets = []
        for a, p, n in plan:
            if a == p:
                i, j = draw.sample(members[a], 2)
            else:
                i, j = draw.choice(members[a]), draw.choice(members[p])
            triplets.append((i, j, draw.choice(members[n])))
        draw.shuffle(triplets)
        return triplets

    return sample


def bench_offline() -> None:
    rng = np.random.default_rng(0)
    print("Offline: TreeTripletSampler.sample() (one epoch per call)")
    print(f"{'tree':<38}{'triplets/epoch':>15}{'vectorised /s':>16}{'python loop /s':>16}{'ratio':>8}")
    for name, (tax, codes) in [
        ("OrchideaSOL-shaped, 10k clips", orchidea_shaped(rng)),
        ("balanced 6^5 = 7776 leaves, 78k clips", balanced(6, 5, 10)),
    ]:
        sampler = TreeTripletSampler(tax, codes, random_state=0)
        fast = best_rate(sampler.sample, sampler.n_triplets)
        slow = best_rate(reference_style(tax, codes, 0), sampler.n_triplets)
        print(f"{name:<38}{sampler.n_triplets:>15,}{fast:>16,.0f}{slow:>16,.0f}{fast / slow:>7.0f}x")


def bench_online(device: str) -> None:
    rng = np.random.default_rng(0)
    tax, codes = orchidea_shaped(rng)
    level_codes = torch.tensor(tax.leaf_level_codes()[codes], device=device)
    print(f"\nOnline: HierarchicalTripletMiner on {device}, OrchideaSOL-shaped labels, 256-d cosine")
    print(f"{'batch':>6}{'strategy':>12}{'triplets/batch':>16}{'batches/s':>12}{'mined triplets/s':>18}")
    for size in (96, 256):
        pick = torch.as_tensor(rng.choice(len(codes), size, replace=False), device=device)
        z = torch.randn(size, 256, device=device, generator=torch.Generator(device).manual_seed(0))
        for strategy in HierarchicalTripletMiner.STRATEGIES:
            miner = HierarchicalTripletMiner(strategy)

            def mine(miner=miner, z=z, batch=level_codes[pick]) -> None:
                miner(z, batch)
                if device == "cuda":
                    torch.cuda.synchronize()

            n_mined = len(miner(z, level_codes[pick])[0])
            per_second = best_rate(mine, 1)
            print(f"{size:>6}{strategy:>12}{n_mined:>16,}{per_second:>12,.1f}{per_second * n_mined:>18,.0f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu", help="torch device for the miners (cpu or cuda)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"Machine: {platform.machine()}, torch threads {torch.get_num_threads()}, torch {torch.__version__}")
    bench_offline()
    bench_online(args.device)


if __name__ == "__main__":
    main()
