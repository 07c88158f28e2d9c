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
3. the training loops side by side (issues 10 and 15), same ConvModel, same random mels with tree
   labels, about the same number of optimizer steps, at 96 and 768 clips per batch: "plain skorch",
   a ``NeuralNet`` (ConvModel + leaf Linear head, cross-entropy, Adam) fed numpy arrays through
   its default DataLoader, in float32; then ``HierarchicalEmbedder(losses="L")`` with 32 or 256
   triplets per batch, measured inside its ``fit`` (its callbacks run): "today" (precision
   float32, compile False, channels_last False: the path before issue 15), "default" (every
   setting "auto"), and on CUDA "default + sync" (the default with a callback reading each step's
   loss with ``.item()``, as skorch does: what the host synchronisation per step costs) and
   "default + CUDA graphs" (``compile__mode="reduce-overhead"``). For each: the seconds of the
   first (warm-up) fit, which pays compilation, clips/s of the second fit, the ratio to plain
   skorch, TFLOP/s from the layer shapes and, on CUDA with ``--peak-tflops``, the fraction of the
   GPU's dense peak;
4. ``paper``: seconds per epoch of the paper's setting (full ConvModel, 128 x 87 mels, the
   soundfont tree's size: 8 families x 4 programs x 6 techniques = 192 leaves, 60 clips per leaf =
   11,520 clips, random mels) for each of the 6 configurations (L, L+T, PL, PL+T, PL+B, PL+B+T),
   with validation and every default callback, in the default settings; then the same epoch with
   ``--concurrency`` fits running at once in separate processes; and the time of the whole
   comparison (6 configurations x 5 folds) extrapolated for ``--paper-epochs`` epochs per fit,
   with the epochs per fit that 30 minutes allow. Each fit trains on one fold of
   ``UnseenLeafKFold(5)`` (configuration i on fold i mod 5, worker i on fold i), so the heads'
   widths change from fit to fit as in the comparison, and a recompilation per fold would show
   in the "first epoch" column.

Run: ``python benchmarks/bench_training.py [--device cuda] [--threads 1] [--epochs 3]
[--peak-tflops 989] [--steps 100] [--parts loops paper] [--paper-epochs 600] [--concurrency 2 4 8]``;
a tiny CPU smoke run: ``--parts loops paper --smoke``.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
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
from sklearn_hier.model_selection import UnseenLeafKFold
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


class StepSync(Callback):
    """Reads each training step's loss on the host (``loss.item()``), the synchronisation skorch makes per step."""

    def on_batch_end(self, net: Any, training: bool = False, loss: Any = None, **kwargs: Any) -> None:
        if training:
            loss.item()


# The estimator's variants: name -> (parameters, CUDA only).
VARIANTS = {
    "today": ({"precision": "float32", "compile": False, "channels_last": False}, False),
    "default": ({}, False),
    "default + sync": ({"callbacks": [("sync", StepSync())]}, True),
    "default + CUDA graphs": ({"compile__mode": "reduce-overhead"}, True),
}


def fast_path(X: np.ndarray, y: np.ndarray, triplets: int, steps: int, args: Any, **params: Any) -> LoopMeter:
    """HierarchicalEmbedder(losses="L") with its device-resident batches, for about ``steps`` steps."""
    meter = LoopMeter(args.device)
    callbacks = [("meter", meter), *params.pop("callbacks", [])]
    emb = HierarchicalEmbedder(
        losses="L",
        triplets_per_batch=triplets,
        valid_size=None,
        module__channels=args.channels,
        # Only the meter: plain skorch runs no scheduler, early stopping, clipping or log either.
        callbacks=callbacks,
        callbacks__lr_scheduler=None,
        callbacks__early_stopping=None,
        callbacks__gradient_clipping=None,
        callbacks__print_log=None,
        max_epochs=1,
        device=args.device,
        random_state=0,
        verbose=0,
        **params,
    )
    start = time.perf_counter()
    emb.fit(X, y)  # warm-up (compilation, kernel choice), and it counts the steps of one epoch
    meter.warmup_seconds_ = time.perf_counter() - start
    warmup = meter.warmup_seconds_
    emb.set_params(max_epochs=max(1, round(steps / meter.steps_))).fit(X, y)
    meter.warmup_seconds_ = warmup
    meter.settings_ = f"{emb.precision_}, compile={emb.compile_}, channels_last={emb.channels_last_}"
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
        f"{tax.n_leaves} leaves, {len(y):,} clips"
    )
    print(f"  training FLOPs per clip: {flops / 1e6:,.2f} MFLOP (formula), {counted / 1e6:,.2f} (FlopCounterMode x 3)")
    print("| clips/batch | variant | settings | steps | warm-up fit s | clips/s | vs plain | TFLOP/s | of peak |")
    print("|---|---|---|---|---|---|---|---|---|")
    plains = {}
    # Each row is printed once measured, so that a run cut short keeps what it measured; CUDA graphs (a compile
    # of their own) come last, at the paper's small batch only, where launch overheads weigh most.
    order = [(k, name) for k in (32, 256) for name in VARIANTS if name != "default + CUDA graphs"]
    for triplets, name in [*order, (32, "default + CUDA graphs")]:
        params, cuda_only = VARIANTS[name]
        if name not in args.variants or (cuda_only and not (on_cuda or args.smoke)):  # smoke: every code path
            continue
        meter = fast_path(X, y, triplets, args.steps, args, **dict(params))
        if triplets not in plains:  # plain skorch runs as many steps as the first variant
            plain = plains[triplets] = plain_skorch(X, codes, 3 * triplets, meter.steps_, args, tax.n_leaves)
            plain.settings_, plain.warmup_seconds_ = "float32, DataLoader", float("nan")
            _print_loop_row(triplets, "plain skorch", plain, plain, flops, args)
        _print_loop_row(triplets, name, meter, plains[triplets], flops, args)


def _print_loop_row(triplets: int, name: str, meter: LoopMeter, plain: LoopMeter, flops: int, args: Any) -> None:
    tflops = meter.rate * flops / 1e12
    peak = f"{tflops / args.peak_tflops:.1%}" if args.device.startswith("cuda") and args.peak_tflops else "n/a"
    print(
        f"| {3 * triplets} | {name} | {meter.settings_} | {meter.steps_} | {meter.warmup_seconds_:.1f} "
        f"| {meter.rate:,.0f} | {meter.rate / plain.rate:.2f}x | {tflops:.4g} | {peak} |",
        flush=True,
    )


PAPER_CONFIGS = ("L", "L+T", "PL", "PL+T", "PL+B", "PL+B+T")


class Barrier(Callback):
    """Holds a worker after its first epoch (which compiles) until ``n`` workers have finished theirs.

    Concurrent fits are then timed only while all of them train: without it, one worker's timed epochs
    could overlap another's compilation, which leaves the GPU to it and flatters the speed-up.
    """

    def __init__(self, folder: str, n: int) -> None:
        self.folder, self.n = Path(folder), n

    def on_epoch_end(self, net: Any, **kwargs: Any) -> None:
        if len(net.history) != 1:
            return
        (self.folder / str(os.getpid())).touch()
        deadline = time.monotonic() + 600
        while len(list(self.folder.iterdir())) < self.n:
            if time.monotonic() > deadline:
                raise TimeoutError(f"only {len(list(self.folder.iterdir()))} of {self.n} workers got past epoch 1")
            time.sleep(0.02)


def paper_epoch_seconds(
    args: Any, losses: str, fold: int, callbacks: list | None = None
) -> tuple[float, float, int, int]:
    """Seconds of the first epoch, the mean of the next ``--paper-measure`` epochs, training clips per epoch, and
    the fewest epochs early stopping lets such a fit run.

    The fit trains on the training part of ``fold`` of ``UnseenLeafKFold(5)``, as a pair of the comparison
    does: folds hold out other leaves, so their heads differ in width.
    """
    _, y, _ = full_tree((8, 4, 6), clips_per_leaf=args.paper_clips_per_leaf)
    X = np.random.default_rng(0).normal(size=(len(y), args.n_mels, args.frames)).astype(np.float32)
    train, _ = list(UnseenLeafKFold(n_splits=5, random_state=0).split(X, y))[fold % 5]
    X, y = X[train], y[train]
    emb = HierarchicalEmbedder(
        losses=losses,
        module__channels=args.channels,
        max_epochs=1 + args.paper_measure,
        device=args.device,
        random_state=0,
        verbose=0,
        callbacks=callbacks,
    )
    emb.fit(X, y)
    durations = np.array(emb.history[:, "dur"])
    clips = sum(emb.history[-1, "batches", :, "train_batch_size"])
    return float(durations[0]), float(durations[1:].mean()), int(clips), earliest_stop(emb)


def earliest_stop(emb: HierarchicalEmbedder) -> int:
    """The fewest epochs a fit of ``emb``'s settings runs: early stopping waits ``patience`` epochs past the best."""
    return dict(emb.net_.callbacks_)["early_stopping"].patience + 1


def bench_paper(args: Any) -> None:
    n_clips = 192 * args.paper_clips_per_leaf
    print(
        f"\nThe paper's setting on {args.device}: ConvModel {args.channels} ch, {args.n_mels} x {args.frames} mels, "
        f"192 leaves, {n_clips:,} clips (each fit on the training part of one fold of UnseenLeafKFold(5)), "
        "valid_size 0.1, default settings and callbacks"
    )
    print("| configuration | fold | first epoch s | s/epoch after | training clips/epoch | clips/s |")
    print("|---|---|---|---|---|---|")
    per_epoch, fewest, rates = [], [], []
    for fold, losses in enumerate(PAPER_CONFIGS):
        first, after, clips, least = paper_epoch_seconds(args, losses, fold)
        per_epoch.append(after)
        fewest.append(least)
        rates.append(clips / after)
        print(f"| {losses} | {fold % 5} | {first:.2f} | {after:.3f} | {clips:,} | {clips / after:,.0f} |")
    mean = float(np.mean(per_epoch))
    alone = rates[PAPER_CONFIGS.index("PL+T")]
    speedups = {1: 1.0} | {k: concurrent_speedup(args, alone, k) for k in args.concurrency if k > 1}
    fits = len(PAPER_CONFIGS) * 5
    print(
        f"\nExtrapolation (assumption: every fit runs {args.paper_epochs} epochs, e.g. where early stopping ends; "
        f"per-epoch time as measured above; first-epoch costs left out):"
    )
    for k, factor in speedups.items():
        total = fits * args.paper_epochs * mean / factor
        within = 30 * 60 * factor / (fits * mean)
        print(
            f"  {fits} fits x {args.paper_epochs} epochs at {k} concurrent fit(s): {total / 60:,.1f} min; "
            f"30 min allow {within:,.0f} epochs per fit"
        )
    # No fit ends before its early stopping's patience has run out once: a floor under any real comparison.
    floor = 5 * float(np.dot(fewest, per_epoch))
    least = ", ".join(map(str, sorted(set(fewest))))
    print(f"If every fit stopped as early as early stopping allows ({least} epochs):")
    for k, factor in speedups.items():
        print(f"  at {k} concurrent fit(s): {floor / factor / 60:,.1f} min")


def concurrent_speedup(args: Any, alone: float, concurrency: int) -> float:
    """Throughput of ``concurrency`` PL+T fits run at once (separate processes), relative to one alone.

    ``alone`` is the training clips/s of one PL+T fit by itself.
    """
    command = [sys.executable, __file__, "--parts", "paper-worker", "--device", args.device]
    command += ["--channels", str(args.channels), "--n-mels", str(args.n_mels), "--frames", str(args.frames)]
    command += ["--paper-clips-per-leaf", str(args.paper_clips_per_leaf), "--paper-measure", str(args.paper_measure)]
    command += ["--threads", str(args.threads)] if args.threads else []
    with tempfile.TemporaryDirectory() as barrier:
        command += ["--paper-barrier", barrier, "--paper-workers", str(concurrency)]
        workers = [
            subprocess.Popen([*command, "--paper-fold", str(fold)], stdout=subprocess.PIPE, text=True)
            for fold in range(concurrency)
        ]
        outputs = [worker.communicate()[0].split() for worker in workers]
    failed = [fold for fold, worker in enumerate(workers) if worker.returncode != 0]
    if failed:
        raise RuntimeError(f"the concurrent workers of folds {failed} failed (their errors are printed above)")
    rates = [float(words[-1]) / float(words[-2]) for words in outputs]  # clips / seconds per epoch
    # Each worker's training clips per second while all train (its folds differ in size), summed, against one alone.
    speedup = sum(rates) / alone
    print(
        f"\n{concurrency} concurrent PL+T fits (timed once all had compiled): clips/s each "
        f"{', '.join(f'{r:,.0f}' for r in rates)} (alone {alone:,.0f}): {speedup:.2f}x the throughput of one fit"
    )
    return speedup


class StepProfiler(Callback):
    """Profiles training steps ``skip`` to ``skip + steps`` of a fit with torch's profiler (after the warm-up)."""

    def __init__(self, device: str, skip: int, steps: int) -> None:
        self.device, self.skip, self.steps = device, skip, steps

    def on_train_begin(self, net: Any, **kwargs: Any) -> None:
        self.seen_, self.profile_, self.wall_ = 0, None, None

    def on_batch_begin(self, net: Any, training: bool = False, **kwargs: Any) -> None:
        if training and self.seen_ == self.skip:
            activities = [torch.profiler.ProfilerActivity.CPU]
            activities += [torch.profiler.ProfilerActivity.CUDA] if self.device.startswith("cuda") else []
            _sync(self.device)
            self.profile_ = torch.profiler.profile(activities=activities)
            self.profile_.__enter__()
            self.start_ = time.perf_counter()

    def on_batch_end(self, net: Any, training: bool = False, **kwargs: Any) -> None:
        if not training:
            return
        self.seen_ += 1
        if self.profile_ is not None and self.wall_ is None and self.seen_ == self.skip + self.steps:
            _sync(self.device)
            self.wall_ = time.perf_counter() - self.start_
            self.profile_.__exit__(None, None, None)


def bench_profile(args: Any) -> None:
    """Where a training step's time goes, in the default settings with every callback: ``losses="PL+T"``.

    Prints per batch size the wall time per step under the profiler, the device's busy time per step (the
    kernels' own time; on a CPU, the operators' own CPU time), and the operators that take most of it. A busy
    share well under 100 % means the host cannot feed the device: concurrent fits can fill the gaps.
    """
    tax, y, _ = full_tree((5, 4, 4), clips_per_leaf=30)
    X = np.random.default_rng(0).normal(size=(len(y), args.n_mels, args.frames)).astype(np.float32)
    cuda = args.device.startswith("cuda")
    key = "self_device_time_total" if cuda else "self_cpu_time_total"
    for triplets in (32, 256):
        # The first steps of a fit record its CUDA graphs (its parameters are new tensors): they are skipped.
        profiler = StepProfiler(args.device, skip=10, steps=args.profile_steps)
        emb = HierarchicalEmbedder(
            losses="PL+T",
            triplets_per_batch=triplets,
            module__channels=args.channels,
            callbacks=[("profiler", profiler)],
            max_epochs=1,
            device=args.device,
            random_state=0,
            verbose=0,
        )
        emb.fit(X, y)  # counts the steps of an epoch; compiles
        needed = profiler.skip + args.profile_steps
        emb.set_params(max_epochs=-(-needed // emb.history[-1, "train_batch_count"])).fit(X, y)
        if profiler.wall_ is None:
            print(f"\n{3 * triplets} clips per batch: fewer than {needed} training steps; nothing profiled")
            continue
        events = profiler.profile_.key_averages()
        busy = sum(getattr(e, key) for e in events) / 1e3 / args.profile_steps  # microseconds -> ms per step
        wall = profiler.wall_ * 1e3 / args.profile_steps
        print(
            f"\n{3 * triplets} clips per batch, {args.device}, {emb.precision_}, compile={emb.compile_}: "
            f"{wall:.2f} ms per step under the profiler, device busy {busy:.2f} ms per step ({busy / wall:.0%})"
        )
        print(events.table(sort_by=key, row_limit=args.profile_rows))


def smoke(args: Any) -> None:
    """Shrink every part to a few seconds on a CPU: a check that the script runs, not a measurement."""
    args.channels, args.n_mels, args.frames, args.steps, args.profile_steps = 4, 16, 16, 4, 2
    args.paper_clips_per_leaf, args.paper_measure, args.paper_epochs = 10, 1, 10  # 10: UnseenLeafKFold's minimum
    args.concurrency, args.threads = [k for k in args.concurrency if k <= 2] or [2], 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument(
        "--parts",
        nargs="+",
        choices=["batches", "epochs", "loops", "paper", "paper-worker", "profile"],
        default=["batches", "epochs", "loops"],
    )
    parser.add_argument("--variants", nargs="+", choices=list(VARIANTS), default=list(VARIANTS), help="in loops")
    parser.add_argument("--paper-epochs", type=int, default=600, help="epochs per fit assumed in the extrapolation")
    parser.add_argument("--paper-measure", type=int, default=3, help="epochs timed per configuration")
    parser.add_argument("--paper-clips-per-leaf", type=int, default=60, help="60 x 192 leaves = 11,520 clips")
    parser.add_argument(
        "--concurrency", type=int, nargs="+", default=[4], help="concurrent fits to measure in the paper part"
    )
    parser.add_argument("--paper-fold", type=int, default=0, help=argparse.SUPPRESS)  # a paper-worker's fold
    parser.add_argument("--paper-barrier", default=None, help=argparse.SUPPRESS)  # its Barrier's folder
    parser.add_argument("--paper-workers", type=int, default=1, help=argparse.SUPPRESS)  # and how many to wait for
    parser.add_argument("--profile-steps", type=int, default=20, help="training steps profiled in the profile part")
    parser.add_argument("--profile-rows", type=int, default=15, help="operators listed in the profile part")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes: checks that the parts run")
    parser.add_argument("--steps", type=int, default=100, help="optimizer steps per loop in the loops part")
    parser.add_argument("--channels", type=int, default=128, help="ConvModel channels in the loops part")
    parser.add_argument("--n-mels", type=int, default=128, help="mel bands in the loops part")
    parser.add_argument("--frames", type=int, default=87, help="frames in the loops part")
    parser.add_argument(
        "--peak-tflops", type=float, default=None, help="the GPU's dense peak TFLOP/s at --precision (CUDA only)"
    )
    args = parser.parse_args()
    if args.smoke:
        smoke(args)
    if args.threads:
        torch.set_num_threads(args.threads)
    if "paper-worker" in args.parts:
        barrier = [("barrier", Barrier(args.paper_barrier, args.paper_workers))] if args.paper_barrier else None
        _, seconds, clips, _ = paper_epoch_seconds(args, "PL+T", args.paper_fold, barrier)
        print(seconds, clips)  # the parent reads the last two words
        return
    print(f"{platform.machine()}, {torch.get_num_threads()} torch threads, torch {torch.__version__}")
    if "batches" in args.parts:
        bench_batches(args.device)
    if "epochs" in args.parts:
        bench_training(args.device, args.epochs)
    if "loops" in args.parts:
        bench_loops(args)
    if "paper" in args.parts:
        bench_paper(args)
    if "profile" in args.parts:
        bench_profile(args)


if __name__ == "__main__":
    main()
