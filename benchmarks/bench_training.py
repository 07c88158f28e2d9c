"""Training throughput of HierarchicalEmbedder: batch assembly and whole training steps.

Prints

1. batches per second of assembling the paper's training batches (96 clips of 128 x 87 mels, the
   clips of 32 tree triplets): our path, one index-tensor gather from the training set kept on the
   device, next to what skorch does by default, a ``torch.utils.data.DataLoader`` over a
   ``skorch.dataset.Dataset`` of the same array with the same batches of indices (per-clip
   ``__getitem__``, default collation, then a copy to the device);
2. clips per second of whole training epochs (forward, loss, backward, clipping, Adam, and the
   callbacks) through ``HierarchicalEmbedder.fit``, for the paper's ConvModel and a small MLP,
   with the skorch ``dur`` of each epoch; the validation split is switched off;
3. the training loops side by side (issue 10), same ConvModel, same random mels with tree labels,
   same number of optimizer steps, at 96 and 768 clips per batch: (a) a plain skorch ``NeuralNet``
   (ConvModel + leaf Linear head, cross-entropy, Adam) fed numpy arrays through its default
   DataLoader, in float32; (b) ``HierarchicalEmbedder(losses="L")`` with 32 or 256 triplets per
   batch and its device-resident batches, in ``--precision``. For each: clips/s, the ratio (b)/(a),
   the model's training FLOPs per clip (counted from the layer shapes), the achieved TFLOP/s and, on
   CUDA with ``--peak-tflops``, the fraction of the GPU's dense peak.

Run: ``python benchmarks/bench_training.py [--device cuda] [--threads 1] [--epochs 3]
[--precision bfloat16] [--peak-tflops 989] [--steps 100] [--parts loops]``; a tiny CPU smoke run:
``--parts loops --channels 8 --n-mels 16 --frames 16 --steps 6``.
"""

from __future__ import annotations

import argparse
import platform
import time
from typing import Any

import numpy as np
import torch
from _timing import best_rate
from skorch import NeuralNet
from skorch.callbacks import Callback
from skorch.dataset import Dataset
from torch import nn
from torch.utils.data import DataLoader
from torch.utils.flop_counter import FlopCounterMode

from sklearn_hier.embedder import HierarchicalEmbedder
from sklearn_hier.nn import ConvModel, TreeTripletSampler
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


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


class LoopMeter(Callback):
    """Counts the optimizer steps and clips of one ``fit`` and times its training loop (set-up excluded)."""

    def __init__(self, device: str) -> None:
        self.device = device

    def on_train_begin(self, net: Any, **kwargs: Any) -> None:
        self.steps_, self.clips_ = 0, 0
        _sync(self.device)
        self.start_ = time.perf_counter()

    def on_batch_end(self, net: Any, batch: Any = None, training: bool = False, **kwargs: Any) -> None:
        if training:
            self.steps_ += 1
            self.clips_ += len(batch[0])

    def on_train_end(self, net: Any, **kwargs: Any) -> None:
        _sync(self.device)
        self.seconds_ = time.perf_counter() - self.start_

    @property
    def rate(self) -> float:
        return self.clips_ / self.seconds_


def training_flops_per_clip(n_mels: int, frames: int, channels: int, n_leaves: int, n_blocks: int = 4) -> int:
    """Training FLOPs of one clip through ConvModel + a leaf Linear head, from the layer shapes.

    Block i (0-based) convolves a (c_in, H_i, W_i) map with H_i = n_mels // 2**i, W_i = frames // 2**i
    (MaxPool2d floors), c_in = 1 for i = 0 else C, 'same' 3x3 padding:
        MACs_conv_i = 9 * c_in * C * H_i * W_i
    then fc: C * (n_mels // 2**n_blocks) * D MACs, and the leaf head: D * n_leaves MACs (D = 256).
    Forward FLOPs = 2 * MACs; training = 3 x forward (the backward pass costs two forwards: gradients of
    the inputs and of the weights). BatchNorm, ReLU, pooling and the loss are left out (under 1 %).
    """
    macs = 0
    for i in range(n_blocks):
        c_in = 1 if i == 0 else channels
        macs += 9 * c_in * channels * (n_mels // 2**i) * (frames // 2**i)
    embedding_dim = 256
    macs += channels * (n_mels // 2**n_blocks) * embedding_dim + embedding_dim * n_leaves
    return 3 * 2 * macs


def counted_forward_flops(module: nn.Module, n_mels: int, frames: int) -> int:
    """Forward FLOPs of one clip as torch's FlopCounterMode counts them (a cross-check of the formula)."""
    module = module.eval()
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        module(torch.zeros(1, n_mels, frames))
    return counter.get_total_flops()


def plain_skorch(X: np.ndarray, codes: np.ndarray, batch: int, steps: int, args: Any, n_leaves: int) -> LoopMeter:
    """(a): skorch's own loop and default DataLoader over numpy arrays, float32, exactly ``steps`` full batches."""
    # Repeat a shuffled order of the clips so that one epoch holds exactly `steps` batches.
    index = np.resize(np.random.default_rng(0).permutation(len(X)), batch * steps)
    meter = LoopMeter(args.device)
    net = NeuralNet(
        module=nn.Sequential(
            ConvModel(n_mels=args.n_mels, channels=args.channels, embedding_dim=256), nn.Linear(256, n_leaves)
        ),
        criterion=nn.CrossEntropyLoss,
        optimizer=torch.optim.Adam,
        optimizer__weight_decay=1e-5,
        lr=1e-3,
        batch_size=batch,
        max_epochs=1,
        train_split=None,
        callbacks=[("meter", meter)],
        device=args.device,
        verbose=0,
    )
    net.fit(X[index[: 2 * batch]], codes[index[: 2 * batch]])  # warm-up: allocator, kernels
    net.fit(X[index], codes[index])
    return meter


def fast_path(X: np.ndarray, y: np.ndarray, triplets: int, steps: int, args: Any) -> LoopMeter:
    """(b): HierarchicalEmbedder(losses="L") with its device-resident batches, for about ``steps`` steps."""
    meter = LoopMeter(args.device)
    emb = HierarchicalEmbedder(
        losses="L",
        triplets_per_batch=triplets,
        valid_size=None,
        module__channels=args.channels,
        # Only the meter: (a) runs no scheduler, early stopping, clipping or log either.
        callbacks=[("meter", meter)],
        callbacks__lr_scheduler=None,
        callbacks__early_stopping=None,
        callbacks__gradient_clipping=None,
        callbacks__print_log=None,
        max_epochs=1,
        device=args.device,
        precision=args.precision,
        random_state=0,
        verbose=0,
    )
    emb.fit(X, y)  # warm-up, and it counts the steps of one epoch
    emb.set_params(max_epochs=max(1, round(steps / meter.steps_))).fit(X, y)
    return meter


def bench_loops(args: Any) -> None:
    tax, y, codes = full_tree((5, 4, 4), clips_per_leaf=30)  # 80 leaves, 2,400 clips, 720 triplets per epoch
    X = np.random.default_rng(0).normal(size=(len(y), args.n_mels, args.frames)).astype(np.float32)
    flops = training_flops_per_clip(args.n_mels, args.frames, args.channels, tax.n_leaves)
    head = nn.Sequential(ConvModel(n_mels=args.n_mels, channels=args.channels), nn.Linear(256, tax.n_leaves))
    counted = 3 * counted_forward_flops(head, args.n_mels, args.frames)
    on_cuda = args.device.startswith("cuda")
    print(
        f"\nTraining loops on {args.device}: ConvModel {args.channels} ch, {args.n_mels} x {args.frames} mels, "
        f"{tax.n_leaves} leaves, {len(y):,} clips; (a) float32, (b) {args.precision}"
    )
    print(f"  training FLOPs per clip: {flops / 1e6:,.2f} MFLOP (formula), {counted / 1e6:,.2f} (FlopCounterMode x 3)")
    print(f"  {'clips/batch':>11}{'steps':>7}{'(a) clips/s':>13}{'(b) clips/s':>13}{'(b)/(a)':>9}", end="")
    print(f"{'(a) TFLOP/s':>13}{'(b) TFLOP/s':>13}{'(b) of peak':>13}")
    for triplets in (32, 256):
        fast = fast_path(X, y, triplets, args.steps, args)
        plain = plain_skorch(X, codes, 3 * triplets, fast.steps_, args, tax.n_leaves)
        assert plain.steps_ == fast.steps_, (plain.steps_, fast.steps_)
        tflops = fast.rate * flops / 1e12
        peak = f"{tflops / args.peak_tflops:.1%}" if on_cuda and args.peak_tflops else "n/a"
        print(
            f"  {3 * triplets:>11}{fast.steps_:>7}{plain.rate:>13,.0f}{fast.rate:>13,.0f}"
            f"{fast.rate / plain.rate:>8.1f}x{plain.rate * flops / 1e12:>13.4g}{tflops:>13.4g}{peak:>13}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument(
        "--parts", nargs="+", choices=["batches", "epochs", "loops"], default=["batches", "epochs", "loops"]
    )
    parser.add_argument("--steps", type=int, default=100, help="optimizer steps per loop in the loops part")
    parser.add_argument("--channels", type=int, default=128, help="ConvModel channels in the loops part")
    parser.add_argument("--n-mels", type=int, default=128, help="mel bands in the loops part")
    parser.add_argument("--frames", type=int, default=87, help="frames in the loops part")
    parser.add_argument("--precision", choices=["float32", "bfloat16"], default="float32", help="of (b)")
    parser.add_argument(
        "--peak-tflops", type=float, default=None, help="the GPU's dense peak TFLOP/s at --precision (CUDA only)"
    )
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"{platform.machine()}, {torch.get_num_threads()} torch threads, torch {torch.__version__}")
    if "batches" in args.parts:
        bench_batches(args.device)
    if "epochs" in args.parts:
        bench_training(args.device, args.epochs)
    if "loops" in args.parts:
        bench_loops(args)


if __name__ == "__main__":
    main()
