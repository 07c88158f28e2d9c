"""The skorch net that :class:`~sklearn_hier.embedder.HierarchicalEmbedder` owns, and its callbacks.

:class:`EmbeddingNet` is a plain :class:`skorch.NeuralNet`: initialised by
``NeuralNet.__init__``, changed only through skorch's public hooks
(``initialize``, ``initialize_module``, ``torch_compile``,
``get_split_datasets``, ``get_iterator``, ``infer``, ``get_loss``,
``get_default_callbacks``, ``run_single_epoch``, ``fit_loop``,
``partial_fit``, ``on_train_begin``, ``on_train_end``). Its
module is an :class:`~sklearn_hier._training.EmbeddingNetwork` and its
criterion a :class:`~sklearn_hier.nn.HierarchicalLoss`, both built by the
estimator, which knows the data; the net owns the miner and the batches.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch
from skorch import NeuralNet
from skorch.callbacks import (
    Callback,
    EarlyStopping,
    EpochTimer,
    GradientNormClipping,
    LRScheduler,
    PassthroughScoring,
    PrintLog,
)
from skorch.dataset import get_len
from skorch.utils import to_tensor
from torch.optim.lr_scheduler import ReduceLROnPlateau

from sklearn_hier._progress import plain_unless_terminal
from sklearn_hier._training import EpochView, MinedBatches, SequentialBatches, TensorData, TripletBatches
from sklearn_hier.nn import HeadOutputs, HierarchicalTripletMiner, Targets

__all__ = ["EmbeddingNet", "EpochClassWeights", "FiniteTraining", "NonFiniteTrainingError"]

# Training batches up to this many clips are replayed as CUDA graphs when compiled on CUDA (launch-bound steps).
SMALL_BATCH = 384
# From torch 2.5 the compiler takes a module's parameters as inputs, so the code compiled for one fit serves every
# later fit of the same backbone and shapes in the process. torch 2.4 guards on the module object itself: each fit
# compiles again, and the fifth in a process runs eagerly (8 graphs per function), so compile="auto" stays off there.
COMPILE_REUSED_ACROSS_FITS = torch.__version__ >= "2.5"


class EpochClassWeights(Callback):
    """Set the criterion's class weights at each epoch's start from the leaf counts of the epoch's batches.

    The reference code's "balanced" weights: the training batches draw the
    coming epoch ahead (``plan_epoch``) and the counts of its leaves set the
    weights of every term (:meth:`~sklearn_hier.nn.HierarchicalLoss.set_class_weights`).
    The validation loss never uses them.
    """

    def on_epoch_begin(self, net: EmbeddingNet, **kwargs: Any) -> None:
        net.criterion_.set_class_weights(net.train_batches_.plan_epoch())


class NonFiniteTrainingError(FloatingPointError):
    """Training produced a NaN or infinite loss or weight; the message names the epoch, the batch and a likely cause.

    Raised by :class:`~sklearn_hier.HierarchicalEmbedder`'s ``fit`` and
    ``partial_fit`` (through the :class:`FiniteTraining` callback), which then
    leave the estimator unfitted; a ``FloatingPointError``, so code that
    catches those catches it too. Importable as
    ``sklearn_hier.NonFiniteTrainingError``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_hier import HierarchicalEmbedder, NonFiniteTrainingError
    >>> X, y = np.array([[0.0, 1.0], [0.1, 1.0], [1.0, 0.0], [1.0, 0.1]] * 4), ["p/a", "p/b", "q/c", "q/d"] * 4
    >>> try:
    ...     HierarchicalEmbedder(embedding_dim=3, max_epochs=3, lr=1e30, random_state=0, verbose=0).fit(X, y)
    ... except NonFiniteTrainingError as error:
    ...     print(str(error)[:40])
    The validation loss is nan at epoch 1, v
    """


class FiniteTraining(Callback):
    """End training with :class:`NonFiniteTrainingError` once a loss or a weight is NaN or infinite.

    skorch trains on through NaN losses and returns a net whose embeddings are
    NaN and whose predictions are one class, with no word. This callback reads
    the epoch's per-batch losses from the history (already on the host: the
    net copies them there once per epoch) and checks the weights with one
    device-to-host read per epoch, so no training step waits for it. Remove
    it by name (``callbacks__finite_training=None``) for skorch's behaviour.
    """

    def on_epoch_end(self, net: EmbeddingNet, **kwargs: Any) -> None:
        row = net.history[-1]
        for prefix, label in (("train", "training"), ("valid", "validation")):
            batches = [batch for batch in row["batches"] if f"{prefix}_loss" in batch]
            bad = next((i for i, batch in enumerate(batches) if not math.isfinite(batch[f"{prefix}_loss"])), None)
            if bad is not None:
                value = batches[bad][f"{prefix}_loss"]
                where = f"epoch {row['epoch']}, {label} batch {bad + 1} of {len(batches)}"
                first_step = prefix == "train" and row["epoch"] == 1 and bad == 0
                raise NonFiniteTrainingError(
                    f"The {label} loss is {value} at {where}. {_likely_cause(net, first_step)} " + _NOT_A_MODEL
                )
        named = list(net.module_.named_parameters())
        finite = torch.stack([torch.isfinite(p).all() for _, p in named]).tolist() if named else []
        bad_weight = next((name for (name, _), ok in zip(named, finite, strict=True) if not ok), None)
        if bad_weight is not None:
            raise NonFiniteTrainingError(
                f"The weight {bad_weight} is NaN or infinite after epoch {row['epoch']}. {_likely_cause(net, False)} "
                + _NOT_A_MODEL
            )


_NOT_A_MODEL = (
    "Its embeddings would be NaN and its predictions one class, so training stops here instead of returning it; "
    "callbacks__finite_training=None gives skorch's behaviour (train on regardless)."
)


def _likely_cause(net: EmbeddingNet, first_step: bool) -> str:
    """The likeliest reason for a non-finite loss, from what the net was given."""
    ball = getattr(net.module_, "embedding_map", None)
    if first_step:
        cause = (
            "It is not finite at the very first step, before any update, so the learning rate is not the cause: "
            "the inputs (values of a very large scale) or the module are; rescale X or check the module"
        )
        if hasattr(ball, "logmap0"):
            cause += (
                f", or points on the Poincaré ball's boundary (curvature c={float(ball.curvature):.3g}, "
                f"geometry__eps={ball.eps}): leave geometry__eps=None or raise it, or lower geometry__c"
            )
        return cause + "."
    cause = f"Likely cause: a learning rate too large for this data (lr={net.lr}); lower lr"
    if hasattr(ball, "logmap0"):
        cause += (
            f", or points reaching the Poincaré ball's boundary (curvature c={float(ball.curvature):.3g}, "
            f"geometry__eps={ball.eps}): lower geometry__c or set geometry__clip_norm"
        )
    return cause + "."


class EmbeddingNet(NeuralNet):
    """skorch net training an embedding network with a hierarchical loss on tree-shaped batches.

    Parameters
    ----------
    module : EmbeddingNetwork
        The backbone, embedding map and heads (an instance, used as it is).
    criterion : HierarchicalLoss
        The weighted loss terms (an instance).
    taxonomy : Taxonomy
        The tree of the training leaves; the batches and targets follow it.
    triplets : {"tree", "batch_hard", "semi_hard"}, default="tree"
        Offline tree triplets, or the strategy of the miner that :meth:`initialize` builds.
    triplets_per_batch : int, default=32
    margin : float, default=0.3
        Margin of the miner.
    metric : {"cosine", "dot", "euclidean", "poincare"}, default="cosine"
        Similarity of the miner (the triplet term has its own, from the same parameter of the estimator).
        Under ``"poincare"`` the miner follows the curvature of the module's ``embedding_map``.
    class_weight : {"balanced"} or None, default=None
        ``"balanced"`` adds the :class:`EpochClassWeights` callback.
    precision : {"float32", "bfloat16"}, default="float32"
        ``"bfloat16"`` runs the module under autocast.
    channels_last : bool, default=False
        Store the module's 4-D (convolution) weights channels-last, the layout
        in which cuDNN's convolutions, batch norms and pools run fastest.
    data_on_device : bool, default=True
        Copy the training and validation clips to the device once (``True``),
        or keep them in host memory and upload each batch (``False``, for data
        that do not fit on the device; page-locked and without waiting on CUDA).
    compile : bool, default=False
        skorch's parameter, with another meaning here: ``True`` compiles the
        module's ``embed`` (backbone and embedding map; the heads, whose widths
        change from fold to fold, run eagerly) for the training loop (training
        steps and validation), with static shapes (``dynamic=False`` unless a
        ``compile__dynamic`` says otherwise); ``compile__*`` parameters reach
        ``torch.compile`` (e.g. ``compile__mode="reduce-overhead"`` for CUDA
        graphs). The module itself stays a plain module, so the fitted net
        pickles and keeps its ``state_dict`` keys, and inference after
        training runs it eagerly.
    **kwargs
        Any :class:`skorch.NeuralNet` parameter.

    Notes
    -----
    Inference (``forward``, ``forward_iter``, the validation loss) runs the
    module on batches of exactly ``batch_size`` rows, padding a short last
    batch with zeros and dropping the padded rows' outputs, so that a sample's
    result never depends on which other samples share its batch (a short batch
    takes another matrix-multiply path whose float32 rounding differs).

    Each batch's training loss stays on the device until the epoch ends: the
    losses of an epoch are then copied to the host at once and recorded as
    skorch's per-batch ``train_loss``, so a training step never waits for the
    GPU (skorch reads each loss with ``loss.item()``, a synchronisation per
    step). A callback's ``on_batch_end`` still receives the step's loss tensor.

    On CUDA, ``torch.backends.cudnn.benchmark`` is on while the net trains
    (the batches have fixed shapes, so the fastest kernels are picked once)
    and is given back its former value afterwards, also on error.

    A ``KeyboardInterrupt`` during training (Ctrl-C, or a callback other than
    skorch's ``EarlyStopping``, which stops training with one) propagates to
    the caller after skorch's own ``on_train_end`` cleanup (skorch's
    ``partial_fit`` would swallow it and return a cut-short net as if finished).
    """

    def __init__(
        self,
        module: Any,
        criterion: Any,
        *,
        taxonomy: Any = None,
        triplets: str = "tree",
        triplets_per_batch: int = 32,
        margin: float = 0.3,
        metric: str = "cosine",
        class_weight: str | None = None,
        precision: str = "float32",
        channels_last: bool = False,
        data_on_device: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(module, criterion, **kwargs)
        self.taxonomy = taxonomy
        self.triplets = triplets
        self.triplets_per_batch = triplets_per_batch
        self.margin = margin
        self.metric = metric
        self.class_weight = class_weight
        self.precision = precision
        self.channels_last = channels_last
        self.data_on_device = data_on_device

    def initialize(self) -> EmbeddingNet:
        """Initialise as skorch does, and build the online miner (``None`` for tree triplets)."""
        super().initialize()
        # The module and criterion given as instances (the ``module`` parameter *is* ``module_``), the
        # callbacks (the scheduler's optimizer) and the miner (the ball's curvature) hold tensors on the
        # device too. skorch maps the attributes whose names start with these prefixes to the CPU when a
        # model fit on a GPU is unpickled on a machine without one, as its docs invite ("expand this
        # list"); anything else would be pickled as CUDA storage and fail to load there.
        wanted = ("module", "criterion", "callbacks", "miner_")
        extra = [name for name in wanted if name not in self.cuda_dependent_attributes_]
        self.cuda_dependent_attributes_ = [*self.cuda_dependent_attributes_, *extra]
        ball = self.module_.embedding_map if self.metric == "poincare" else 1.0
        self.miner_ = (
            None
            if self.triplets == "tree"
            else HierarchicalTripletMiner(self.triplets, margin=self.margin, metric=self.metric, curvature=ball)
        )
        return self

    def initialize_module(self) -> EmbeddingNet:
        """skorch's module set-up, then the channels-last layout of the weights when asked for."""
        super().initialize_module()
        if self.channels_last:
            self.module_.to(memory_format=torch.channels_last)
        return self

    def torch_compile(self, module: torch.nn.Module, name: str) -> torch.nn.Module:
        """Leave the modules as they are: the training loop compiles the embedding (:meth:`on_train_begin`)."""
        return module

    def on_train_begin(self, net: Any, X: Any = None, y: Any = None, **kwargs: Any) -> None:
        """Compile the module's embedding for this training run when ``compile`` is set.

        torch caches compiled code by the function's code and the shapes it saw,
        so a later fit of a network of the same class and shapes in this
        process reuses it instead of compiling again (from torch 2.5; see
        ``COMPILE_REUSED_ACROSS_FITS``).
        """
        super().on_train_begin(net, X=X, y=y, **kwargs)
        options = {"dynamic": False, **self.get_params_for("compile")}
        if "mode" not in options and torch.device(self.device).type == "cuda" and self._small_batches():
            # At the paper's 96 clips a step is launch-bound: replayed as CUDA graphs it ran at 21,188 clips/s
            # against 11,105 without, on an H200 (benchmarks/bench_training.py, docs/performance.md).
            options["mode"] = "reduce-overhead"
        # Only the embedding (backbone and map) is compiled, and as a bound method, so the net's modules stay the ones
        # skorch set up and saves. Its shapes are the same in every fold and configuration, so its graphs are reused
        # across fits; the heads' widths follow each fold's training leaves, and compiling them would compile again
        # for every fold and, past torch's recompile limit (8 graphs), silently run everything eagerly.
        self.compiled_embed_ = torch.compile(self.module_.embed, **options) if self.compile else None

    def _small_batches(self) -> bool:
        """Whether the training batches hold at most ``SMALL_BATCH`` clips (each triplet is three clips)."""
        return 3 * self.triplets_per_batch <= SMALL_BATCH

    def get_default_callbacks(self) -> list[tuple[str, Any]]:
        """skorch's defaults, the paper's schedule, early stopping and gradient clipping, and :class:`FiniteTraining`.

        Both monitor ``valid_loss``, or ``train_loss`` when ``train_split`` is
        ``None``; their patience is 5x longer with a triplet term, as in the paper.
        """
        monitor = "train_loss" if self.train_split is None else "valid_loss"
        slow = bool(getattr(self.criterion, "uses_triplets", False))
        callbacks = [
            ("epoch_timer", EpochTimer()),
            ("train_loss", PassthroughScoring(name="train_loss", on_train=True)),
            ("valid_loss", PassthroughScoring(name="valid_loss")),
            ("finite_training", FiniteTraining()),
            (
                "lr_scheduler",
                LRScheduler(policy=ReduceLROnPlateau, monitor=monitor, factor=0.6, patience=250 if slow else 50),
            ),
            (
                "early_stopping",
                EarlyStopping(monitor=monitor, patience=500 if slow else 100, threshold=0.0, load_best=True),
            ),
            ("gradient_clipping", GradientNormClipping(gradient_clip_value=1.0)),
            ("print_log", PlainPrintLog()),
        ]
        if self.class_weight == "balanced":
            callbacks.insert(1, ("class_weights", EpochClassWeights()))
        return callbacks

    def get_split_datasets(self, X: Any, y: Any = None, **fit_params: Any) -> tuple[Any, Any]:
        """skorch's split, each part copied to the device once; the training part as an :class:`EpochView`.

        The view's length counts the clips an epoch gathers, so that skorch's
        ``len(dataset) / iterator_train__batch_size`` (e.g. ``ProgressBar``'s
        total) is the number of training batches.
        """
        train, valid = super().get_split_datasets(X, y, **fit_params)
        if not isinstance(train, TensorData):
            return train, valid
        train = self._placed(train)
        if self.triplets == "tree":
            # A compiled network reuses its graphs only when every batch has the same shape.
            self.train_batches_ = TripletBatches(train, self.taxonomy, self.triplets_per_batch, drop_last=self.compile)
        else:
            self.train_batches_ = MinedBatches(train, self.taxonomy, self.triplets_per_batch)
        return EpochView(self.train_batches_), None if valid is None else self._placed(valid)

    def _placed(self, data: TensorData) -> TensorData:
        return data.to(self.device) if self.data_on_device else data.streamed_to(self.device)

    def get_iterator(self, dataset: Any, training: bool = False) -> Any:
        """The epoch's training batches, consecutive batches of clips otherwise (skorch's for other data)."""
        if isinstance(dataset, EpochView):
            return dataset.batches
        if isinstance(dataset, TensorData):
            return SequentialBatches(dataset, self.batch_size)
        return super().get_iterator(dataset, training=training)

    def infer(self, x: Any, **fit_params: Any) -> tuple[torch.Tensor, HeadOutputs]:
        """Embeddings and head logits of a batch, float32, on the device (padded to ``batch_size`` in eval mode)."""
        x = to_tensor(x, device=self.device)
        n = len(x)
        if not self.module_.training and n < self.batch_size:
            x = torch.cat([x, x.new_zeros((self.batch_size - n, *x.shape[1:]))])
        compiled = getattr(self, "compiled_embed_", None)
        if compiled is not None and x.device.type == "cuda":
            # Tells CUDA graphs (compile__mode="reduce-overhead") that a new step begins; a no-op otherwise.
            torch.compiler.cudagraph_mark_step_begin()
        with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=self.precision == "bfloat16"):
            if compiled is None:
                z, outputs = self.module_(x, **fit_params)
            else:
                # Cloned: under CUDA graphs the compiled output is a buffer that the next replay overwrites.
                z = compiled(x, **fit_params).clone()
                outputs = self.module_.read_heads(z)
        return z[:n].to(torch.float32), outputs[:n].to(torch.float32)

    def get_loss(self, y_pred: Any, y_true: Any, X: Any = None, training: bool = False) -> torch.Tensor:
        """The weighted loss; triplet terms and class weights count in training only (the paper's validation)."""
        z, outputs = y_pred
        codes, triplets = y_true
        targets = Targets.from_codes(codes, self.taxonomy)
        if training and triplets is None and self.miner_ is not None and self.criterion_.uses_triplets:
            triplets = self.miner_(z.detach(), targets.levels)
        loss, _ = self.criterion_(z, outputs, targets, triplets, include_triplet=training, weighted=training)
        return loss

    def run_single_epoch(self, iterator: Any, training: bool, prefix: str, step_fn: Any, **fit_params: Any) -> None:
        """skorch's epoch, with the batch losses copied to the host once, at the epoch's end.

        The per-batch history rows (``<prefix>_loss``, ``<prefix>_batch_size``)
        and the callbacks' notifications are skorch's; only the time at which
        the losses are read differs.
        """
        if iterator is None:
            return
        losses, rows = [], []
        for batch in iterator:
            self.notify("on_batch_begin", batch=batch, training=training)
            step = step_fn(batch, **fit_params)
            losses.append(step["loss"].detach())
            rows.append(self.history[-1]["batches"][-1])
            self.history.record_batch(prefix + "_batch_size", get_len(batch[0]))
            self.notify("on_batch_end", batch=batch, training=training, **step)
        for row, loss in zip(rows, torch.stack(losses).tolist() if losses else [], strict=True):
            row[prefix + "_loss"] = loss
        self.history.record(prefix + "_batch_count", len(losses))

    def fit_loop(self, X: Any, y: Any = None, epochs: int | None = None, **fit_params: Any) -> EmbeddingNet:
        """skorch's loop; an interruption is noted, so :meth:`partial_fit` can raise it after cleanup.

        skorch's ``EarlyStopping`` also ends training with a
        ``KeyboardInterrupt``; that one is a normal end, told apart by the
        callback having run out of patience.
        """
        try:
            return super().fit_loop(X, y, epochs, **fit_params)
        except KeyboardInterrupt as interrupt:
            if not self._stopped_early():
                self.interrupted_ = interrupt
            raise

    def _stopped_early(self) -> bool:
        return any(
            isinstance(callback, EarlyStopping) and getattr(callback, "misses_", 0) >= callback.patience
            for _, callback in self.callbacks_
        )

    def partial_fit(self, X: Any, y: Any = None, classes: Any = None, **fit_params: Any) -> EmbeddingNet:
        """skorch's ``partial_fit``, re-raising a ``KeyboardInterrupt`` once its ``on_train_end`` has run."""
        self.interrupted_ = None
        with _cudnn_benchmark(torch.device(self.device).type == "cuda"):
            super().partial_fit(X, y, classes, **fit_params)
        interrupt, self.interrupted_ = self.interrupted_, None
        if interrupt is not None:
            raise interrupt
        return self

    def on_train_end(self, net: Any, X: Any = None, y: Any = None, **kwargs: Any) -> None:
        """Let go of the training batches: they hold the training clips, which a pickled model must not carry."""
        super().on_train_end(net, X=X, y=y, **kwargs)
        self.train_batches_ = None
        self.compiled_embed_ = None


@contextmanager
def _cudnn_benchmark(enabled: bool) -> Iterator[None]:
    """cuDNN's kernel autotuning on for the block when ``enabled``; its former setting restored after, even on error."""
    before = torch.backends.cudnn.benchmark
    torch.backends.cudnn.benchmark = before or enabled
    try:
        yield
    finally:
        torch.backends.cudnn.benchmark = before


class PlainPrintLog(PrintLog):
    """skorch's ``PrintLog``, without the colour codes of the best scores when stdout is not a terminal."""

    def format_row(self, row: Any, key: str, color: str) -> Any:
        formatted = super().format_row(row, key, color)
        return plain_unless_terminal(formatted) if isinstance(formatted, str) else formatted
