"""Training throughput of HierarchicalEmbedder: batch assembly and whole training steps.

Prints

1. batches per second of assembling the paper's training batches (96 clips of 128 x 87 mels, the
   clips of 32 tree triplets): our path, one index-tensor gather from the training set kept on the
   device, next to what skorch does by default, a ``torch.utils.data.DataLoader`` over a
   ``skorch.dataset.Dataset`` of the same array with the same batches of indices (per-clip
   ``__getitem__``, default collation, then a copy to the device);
2. clips per second of whole training epochs (forward, loss, backward, clipping, Adam, and the
   callbacks) through ``HierarchicalEmbedder.fit``, for the paper's ConvModel and a small MLP,
   with the skorch ``dur`` of each epoch; the validation split is switched off.

Run: ``python benchmarks/bench_training.py [--device cuda] [--threads 1] [--epochs 3]``.
"""

from __future__ import annotations

import argparse
import platform

import numpy as np
import torch
from _timing import best_rate
from skorch.dataset import Dataset
from torch.utils.data import DataLoader

from sklearn_hier.embedder import HierarchicalEmbedder
from sklearn_hier.nn import TreeTripletSampler
from sklearn_hier.taxonomy import Taxonomy


def full_tree(branching: tuple[int, ...], clips_per_leaf: int) -> tuple[Taxonomy, np.ndarray, np.ndarray]:
    """A full tree, its label paths (``clips_per_leaf`` per leaf) and their leaf codes."""
    paths = ["/".join(f"n{d}{c}" for d, c in enumerate(combo)) for combo in np.ndindex(*branching)]
    tax = Taxonomy.from_paths(paths)
    y = np.repeat(np.array(tax.leaves, dtype=object), clips_per_leaf)
    return tax, y, tax.encode(y)


def bench_batches(device: str) -> None:
    tax, y, codes = full_tree((5, 4, 4), clips_per_leaf=30)  # 80 leaves, 2,400 clips
    X = np.random.default_rng(0).normal(size=(len(codes), 128, 87)).astype(np.float32)
    a, p, n = TreeTripletSampler(tax, codes, random_state=0).sample()
    batches = [np.concatenate([a[i : i + 32], p[i : i + 32], n[i : i + 32]]) for i in range(0, len(a) - 31, 32)]
    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)

    X_dev = torch.from_numpy(X).to(device)
    codes_dev = torch.from_numpy(codes).to(device)
    table = torch.from_numpy(np.stack(batches)).to(device)

    def ours() -> None:
        for index in table:
            X_dev[index], codes_dev[index]
        sync()

    loader = DataLoader(Dataset(X, codes), batch_sampler=batches)

    def skorch_default() -> None:
        for Xb, yb in loader:
            Xb.to(device), yb.to(device)
        sync()

    print(f"Batch assembly: {len(batches)} batches of 96 clips of 128 x 87 float32 mels, on {device}")
    fast, slow = best_rate(ours, len(batches)), best_rate(skorch_default, len(batches), windows=3)
    print(f"  device-resident gather:     {fast:12,.0f} batches/s")
    print(f"  DataLoader + skorch Dataset: {slow:11,.0f} batches/s   ratio {fast / slow:.1f}x")


def bench_training(device: str, epochs: int) -> None:
    tax, y, _ = full_tree((4, 4), clips_per_leaf=12)  # 16 leaves: 120 tree triplets = 4 batches per epoch
    rng = np.random.default_rng(0)
    configs = [
        ("ConvModel (paper: 128 ch, 4 blocks), 128 x 87 mels", rng.normal(size=(len(y), 128, 87)), {}),
        ("MLP (256 hidden), 64 features", rng.normal(size=(len(y), 64)), {}),
    ]
    print(f"\nWhole training epochs on {device}: losses='PL+T', 32 triplets (96 clips) per batch, {epochs} epochs")
    print(f"  {'backbone':<52}{'batches/epoch':>14}{'s/epoch':>10}{'clips/s':>10}")
    for name, X, params in configs:
        emb = HierarchicalEmbedder(
            losses="PL+T", max_epochs=epochs, valid_size=None, device=device, random_state=0, verbose=0, **params
        )
        emb.fit(X.astype(np.float32), y)
        durations = np.array(emb.history[1:, "dur"])  # the first epoch pays one-off costs
        clips = np.array([sum(b["train_batch_size"] for b in epoch["batches"]) for epoch in emb.history[1:]])
        n_batches = emb.history[-1, "train_batch_count"]
        print(f"  {name:<52}{n_batches:>14}{durations.mean():>10.3f}{clips.sum() / durations.sum():>10,.0f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads")
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"{platform.machine()}, {torch.get_num_threads()} torch threads, torch {torch.__version__}")
    bench_batches(args.device)
    bench_training(args.device, args.epochs)


if __name__ == "__main__":
    main()
