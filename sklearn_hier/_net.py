"""The skorch net that :class:`~sklearn_hier.embedder.HierarchicalEmbedder` owns, and its callbacks.

:class:`EmbeddingNet` is a plain :class:`skorch.NeuralNet`: initialised by
``NeuralNet.__init__``, fed through skorch's own parameters (``iterator_train``
and ``iterator_valid`` are :func:`~sklearn_hier._batches.epoch_batches` and
:func:`~sklearn_hier._batches.sequential_batches`), trained by skorch's own
epoch loop, and changed through seven public hooks (``initialize``,
``get_default_callbacks``, ``get_split_datasets``, ``infer``, ``get_loss``,
``fit_loop``, ``partial_fit``) and callbacks. Its module is an
:class:`~sklearn_hier.nn.EmbeddingNetwork` and its criterion a
:class:`~sklearn_hier.nn.HierarchicalLoss`, both built from the fit plan
(:mod:`sklearn_hier._build`); the net builds the miner from the criterion's
triplet term and owns the batches.
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
    GradientNormClipping,
    LRScheduler,
    PrintLog,
)
from skorch.utils import to_tensor
from torch.optim.lr_scheduler import ReduceLROnPlateau

from sklearn_hier._batches import (
    EpochView,
    MinedBatches,
    ShuffledBatches,
    TripletBatches,
    clips_per_batch,
    epoch_batches,
    sequential_batches,
)
from sklearn_hier._data import TensorData
from sklearn_hier._progress import plain_unless_terminal
from sklearn_hier.nn import HeadOutputs, HierarchicalTripletMiner

__all__ = [
    "CompiledEmbedding",
    "EmbeddingNet",
    "EpochClassWeights",
    "FiniteTraining",
    "NonFiniteTrainingError",
    "ReleaseTrainingData",
]

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
    the epoch's per-batch losses from the history (where skorch records
    them) and checks the weights with one device-to-host read per epoch. Remove
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
    ball = net.module_.embedding_map if net.criterion_.distance.on_ball else None
    if first_step:
        cause = (
            "It is not finite at the very first step, before any update, so the learning rate is not the cause: "
            "the inputs (values of a very large scale) or the module are; rescale X or check the module"
        )
        if ball is not None:
            cause += (
                f", or points on the Poincaré ball's boundary (curvature c={float(ball.curvature):.3g}, "
                f"geometry__eps={ball.eps}): leave geometry__eps=None or raise it, or lower geometry__c"
            )
        return cause + "."
    cause = f"Likely cause: a learning rate too large for this data (lr={net.lr}); lower lr"
    if ball is not None:
        cause += (
            f", or points reaching the Poincaré ball's boundary (curvature c={float(ball.curvature):.3g}, "
            f"geometry__eps={ball.eps}): lower geometry__c or set geometry__clip_norm"
        )
    return cause + "."


class CompiledEmbedding(Callback):
    """Compile the module's embedding (backbone and map) for the training loop; drop it when training ends.

    Only the embedding is compiled, and as a bound method, so the net's
    modules stay the ones skorch set up and saves. Its shapes are the same in
    every fold and configuration, so its graphs are reused across fits; the
    heads' widths follow each fold's training leaves, and compiling them would
    compile again for every fold and, past torch's recompile limit (8 graphs),
    silently run everything eagerly. torch caches compiled code by the
    function's code and the shapes it saw, so a later fit of a network of the
    same class and shapes in this process reuses it (from torch 2.5; see
    ``COMPILE_REUSED_ACROSS_FITS``).

    Parameters
    ----------
    options : dict or None, default=None
        Keywords of ``torch.compile`` (the estimator's ``compile__*``);
        ``dynamic=False`` unless given.
    """

    def __init__(self, options: dict[str, Any] | None = None) -> None:
        self.options = options

    def on_train_begin(self, net: EmbeddingNet, **kwargs: Any) -> None:
        options = {"dynamic": False, **(self.options or {})}
        if "mode" not in options and torch.device(net.device).type == "cuda" and net.small_batches():
            # At the paper's 96 clips a step is launch-bound: replayed as CUDA graphs it ran at 21,188 clips/s
            # against 11,105 without, on an H200 (benchmarks/bench_training.py, docs/performance.md).
            options["mode"] = "reduce-overhead"
        net.compiled_embed_ = torch.compile(net.module_.embed, **options)

    def on_train_end(self, net: EmbeddingNet, **kwargs: Any) -> None:
        net.compiled_embed_ = None


class ReleaseTrainingData(Callback):
    """Let go of the training batches when training ends: they hold the clips, which a pickled model must not carry."""

    def on_train_end(self, net: EmbeddingNet, **kwargs: Any) -> None:
        net.train_batches_ = None


class EmbeddingNet(NeuralNet):
    """skorch net training an embedding network with a hierarchical loss on tree-shaped batches.

    Parameters
    ----------
    module : EmbeddingNetwork
        The backbone, embedding map and heads (an instance, used as it is).
    criterion : HierarchicalLoss
        The weighted loss terms, bound to the fit (an instance).
    taxonomy : Taxonomy
        The tree of the training leaves; the batches follow it. On label sets
        (the criterion's tables are sets) the batches are shuffled clips
        (:class:`~sklearn_hier._batches.ShuffledBatches`).
    triplets : {"tree", "batch_hard", "semi_hard"}, default="tree"
        Offline tree triplets, or the strategy of the miner that
        :meth:`initialize` builds from the criterion's triplet term (its
        margin, the criterion's distance). The miner reads how much of the
        hierarchy two clips share (:meth:`~sklearn_hier.nn.targets.Targets.shared`).
    triplets_per_batch : int, default=32
    class_weight : {"balanced"} or None, default=None
        ``"balanced"`` adds the :class:`EpochClassWeights` callback.
    precision : {"float32", "bfloat16"}, default="float32"
        ``"bfloat16"`` runs the module under autocast.
    data_on_device : bool, default=True
        Copy the training and validation clips to the device once (``True``),
        or keep them in host memory and upload each batch (``False``, for data
        that do not fit on the device; page-locked and without waiting on CUDA).
    compile_embedding : dict or None, default=None
        ``torch.compile`` options: when given (``{}`` for the defaults), the
        :class:`CompiledEmbedding` callback compiles the module's ``embed``
        for training, with static shapes, and the training batches drop an
        epoch's short last batch so that every batch has one shape. skorch's
        own ``compile`` (the whole module) keeps skorch's meaning.
    **kwargs
        Any :class:`skorch.NeuralNet` parameter.

    Notes
    -----
    Inference (``forward``, ``forward_iter``, the validation loss) runs the
    module on batches of exactly ``batch_size`` rows, padding a short last
    batch with zeros and dropping the padded rows' outputs, so that a sample's
    result never depends on which other samples share its batch (a short batch
    takes another matrix-multiply path whose float32 rounding differs).

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
        class_weight: str | None = None,
        precision: str = "float32",
        data_on_device: bool = True,
        compile_embedding: dict[str, Any] | None = None,
        iterator_train: Any = epoch_batches,
        iterator_valid: Any = sequential_batches,
        **kwargs: Any,
    ) -> None:
        super().__init__(module, criterion, iterator_train=iterator_train, iterator_valid=iterator_valid, **kwargs)
        self.taxonomy = taxonomy
        self.triplets = triplets
        self.triplets_per_batch = triplets_per_batch
        self.class_weight = class_weight
        self.precision = precision
        self.data_on_device = data_on_device
        self.compile_embedding = compile_embedding

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
        self.miner_ = None if self.triplets == "tree" else self._miner()
        self.compiled_embed_ = None
        return self

    def _miner(self) -> HierarchicalTripletMiner | None:
        """The online miner of the criterion's triplet term: that term's margin, the criterion's distance."""
        term = self.criterion_.spec.triplet_term
        if term is None:
            return None
        if not hasattr(term, "margin"):
            raise ValueError(
                f"Online mining (triplets={self.triplets!r}) mines for the triplet term's margin, and "
                f"{type(term).__name__} has no 'margin' option; give it one or use triplets='tree'."
            )
        return HierarchicalTripletMiner(self.triplets, margin=term.margin, distance=self.criterion_.distance)

    def small_batches(self) -> bool:
        """Whether the training batches hold at most ``SMALL_BATCH`` clips (each triplet is three clips)."""
        return 3 * self.triplets_per_batch <= SMALL_BATCH

    def get_default_callbacks(self) -> list[tuple[str, Any]]:
        """skorch's defaults, extended: the paper's schedule, early stopping and clipping, and :class:`FiniteTraining`.

        Both monitor ``valid_loss``, or ``train_loss`` when ``train_split`` is
        ``None``; their patience is 5x longer with a triplet term, as in the
        paper. skorch's ``print_log`` is :class:`PlainPrintLog`.
        """
        monitor = "train_loss" if self.train_split is None else "valid_loss"
        slow = bool(getattr(self.criterion, "uses_triplets", False))
        ours = [
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
            ("release_training_data", ReleaseTrainingData()),
        ]
        if self.compile_embedding is not None:
            ours.append(("compiled_embedding", CompiledEmbedding(self.compile_embedding)))
        callbacks = []
        for name, callback in super().get_default_callbacks():
            if name == "print_log":
                callbacks += [*ours, (name, PlainPrintLog())]
                continue
            callbacks.append((name, callback))
            if name == "epoch_timer" and self.class_weight == "balanced":
                callbacks.append(("class_weights", EpochClassWeights()))
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
        tables = self.criterion_.tables
        if tables.multilabel:
            batch_size = clips_per_batch(self.triplets, self.triplets_per_batch)
            self.train_batches_ = ShuffledBatches(train, tables.n_codes, batch_size)
        elif self.triplets == "tree":
            # A compiled network reuses its graphs only when every batch has the same shape.
            drop_last = self.compile_embedding is not None
            self.train_batches_ = TripletBatches(train, self.taxonomy, self.triplets_per_batch, drop_last=drop_last)
        else:
            self.train_batches_ = MinedBatches(train, self.taxonomy, self.triplets_per_batch)
        return EpochView(self.train_batches_), None if valid is None else self._placed(valid)

    def _placed(self, data: TensorData) -> TensorData:
        return data.to(self.device) if self.data_on_device else data.streamed_to(self.device)

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
        targets = self.criterion_.targets(codes)
        if training and triplets is None and self.miner_ is not None:
            triplets = self.miner_.mine(z.detach(), targets.shared(), self.criterion_.tables.max_shared)
        loss, _ = self.criterion_(z, outputs, targets, triplets, include_triplet=training, weighted=training)
        return loss

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
