"""What training on label sets costs: epoch throughput and triplet mining, against single labels and a plain loop.

Data: N clips of 64 features, each the sum of 3 leaves' centres plus noise, on a
tree of 48 leaves (4 families x 4 instruments x 3 techniques); "one label" keeps
each clip's first leaf, as a path, with the same features.

- ``epochs``: clips per second of a training epoch (the fastest epoch of a
  fit, skorch's ``dur``), MLP backbone, 96 clips per batch, no validation.
  Ours on label sets ("B"; "PL+B+T" with batch-hard and semi-hard mining),
  ours on one label (the same "PL+B+T" fits), and what a user would write
  instead for multi-label embeddings: a plain PyTorch loop of the same MLP and
  a linear head trained with ``BCEWithLogitsLoss`` on the label indicators
  (Adam, shuffled batches). Ratios are ours / plain, from the same run.
- ``mining``: one 96-clip batch's ``Targets.shared()`` and mining (batch-hard,
  semi-hard) on random embeddings, on label sets (closure overlaps) and on one
  label (LCA depths): batches per second, the triplets found, and the time
  ratio sets / one.

Run: python benchmarks/bench_multilabel.py [--n 4000] [--epochs 4] [--threads 1] [--parts epochs mining]
"""

import argparse
import os
import platform
import sys

import numpy as np
import torch
from torch import nn

sys.path.insert(0, os.path.dirname(__file__))
from _timing import best_of, best_rate  # noqa: E402

from sklearn_hier import HierarchicalEmbedder  # noqa: E402
from sklearn_hier.nn import MLP, HierarchicalTripletMiner, Targets  # noqa: E402
from sklearn_hier.taxonomy import Taxonomy  # noqa: E402

LEAVES = [f"F{f}/I{f}{i}/T{t}" for f in range(4) for i in range(4) for t in range(3)]
BATCH = 96
HIDDEN = (256,)
DIM = 128


def mixtures(n: int, seed: int = 0) -> tuple[np.ndarray, list[frozenset[str]], np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = {leaf: rng.normal(size=64) for leaf in LEAVES}
    picks = [rng.choice(len(LEAVES), size=3, replace=False) for _ in range(n)]
    sets = [frozenset(LEAVES[i] for i in p) for p in picks]
    X = np.array([sum(centres[LEAVES[i]] for i in p) for p in picks]) + rng.normal(scale=0.5, size=(n, 64))
    first = np.array([LEAVES[p[0]] for p in picks], dtype=object)
    return X.astype(np.float32), sets, first


def ours_rate(X: np.ndarray, y, epochs: int, **params) -> float:
    emb = HierarchicalEmbedder(
        module__hidden=HIDDEN,
        embedding_dim=DIM,
        triplets_per_batch=BATCH // 3,
        max_epochs=epochs,
        valid_size=None,
        device="cpu",
        random_state=0,
        verbose=0,
        **params,
    ).fit(X, y)
    return len(X) / min(emb.history_[:, "dur"])


def plain_rate(X: np.ndarray, sets, epochs: int) -> float:
    """A user's own multi-label loop: MLP + linear head, BCE on the indicators, Adam, shuffled batches."""
    classes = sorted(set().union(*sets))
    column = {c: j for j, c in enumerate(classes)}
    target = torch.zeros(len(sets), len(classes))
    for i, labels in enumerate(sets):
        target[i, [column[c] for c in labels]] = 1.0
    torch.manual_seed(0)
    model = nn.Sequential(MLP(n_features=X.shape[1], embedding_dim=DIM, hidden=HIDDEN), nn.Linear(DIM, len(classes)))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, weight_decay=1e-5)
    loss_fn = nn.BCEWithLogitsLoss()
    data = torch.from_numpy(X)

    def epoch() -> None:
        for index in torch.randperm(len(data)).split(BATCH):
            optimizer.zero_grad()
            loss_fn(model(data[index]), target[index]).backward()
            optimizer.step()

    return len(data) / min(best_of(epoch, repeat=1) for _ in range(epochs))


def bench_epochs(args: argparse.Namespace) -> None:
    X, sets, first = mixtures(args.n)
    plain = plain_rate(X, sets, args.epochs)
    rows = [
        ("plain loop, BCE on label sets", plain),
        ("ours, label sets, B", ours_rate(X, sets, args.epochs, losses="B")),
    ]
    for labels, y in (("label sets", sets), ("one label", first)):
        for mining in ("batch_hard", "semi_hard"):
            rate = ours_rate(X, y, args.epochs, losses="PL+B+T", triplets=mining)
            rows.append((f"ours, {labels}, PL+B+T {mining}", rate))
    print(f"\nepochs: {args.n} clips, {BATCH} per batch, MLP {HIDDEN} -> {DIM}, best of {args.epochs} epochs")
    print(f"{'route':<38} {'clips/s':>10} {'/ plain':>8}")
    for name, rate in rows:
        print(f"{name:<38} {rate:>10,.0f} {rate / plain:>8.2f}")


def bench_mining(args: argparse.Namespace) -> None:
    X, sets, first = mixtures(BATCH)
    tree = Taxonomy.from_paths(LEAVES)
    z = torch.randn(BATCH, DIM, generator=torch.Generator().manual_seed(0))
    on_sets, on_one = Targets.from_y(sets, tree), Targets.from_y(first, tree)
    print(f"\nmining: one batch of {BATCH} clips, random embeddings")
    print(f"{'strategy':<11} {'labels':<11} {'batches/s':>10} {'triplets':>9} {'sets / one':>11}")
    for strategy in ("batch_hard", "semi_hard"):
        miner = HierarchicalTripletMiner(strategy, margin=0.3)
        rates = {}
        for labels, targets, bound in (("label sets", on_sets, 9), ("one label", on_one, tree.depth)):
            rates[labels] = best_rate(lambda m=miner, t=targets, b=bound: m.mine(z, t.shared(), b), per_call=1)
            found = len(miner.mine(z, targets.shared(), bound)[0])
            ratio = f"{rates['one label'] / rates['label sets']:.2f}" if labels == "one label" else ""
            print(f"{strategy:<11} {labels:<11} {rates[labels]:>10,.0f} {found:>9,} {ratio:>11}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=4000)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--parts", nargs="+", default=["epochs", "mining"], choices=["epochs", "mining"])
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"{platform.machine()} {platform.processor() or ''}, torch {torch.__version__}, {args.threads} thread(s)")
    print(f"load average at start: {os.getloadavg()[0]:.2f}")
    if "epochs" in args.parts:
        bench_epochs(args)
    if "mining" in args.parts:
        bench_mining(args)
    print(f"load average at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
