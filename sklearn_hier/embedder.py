"""HierarchicalEmbedder: the scikit-learn estimator that learns tree-shaped embeddings.

This is the one module where scikit-learn, skorch and torch meet: it validates
``X`` and ``y``, builds the :class:`~sklearn_hier.taxonomy.Taxonomy`, sizes the
network from the data, and hands training to skorch's loop, with the batches,
the loss and the callbacks of the paper.
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from numbers import Integral, Real
from types import MappingProxyType
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.base import ClassNamePrefixFeaturesOutMixin, TransformerMixin, _fit_context
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions, validate_parameter_constraints
from sklearn.utils.validation import check_array, check_consistent_length, check_is_fitted, validate_data
from skorch import NeuralNet
from skorch.callbacks import (
    EarlyStopping,
    EpochTimer,
    GradientNormClipping,
    LRScheduler,
    PassthroughScoring,
    PrintLog,
)
from torch.optim.lr_scheduler import ReduceLROnPlateau

from sklearn_hier._device import auto_device, check_device
from sklearn_hier._training import (
    EmbeddingNetwork,
    MinedBatches,
    SequentialBatches,
    TensorData,
    TrainingData,
    TripletBatches,
    leaf_stratified_split,
    output_width,
    to_device_tensor,
)
from sklearn_hier.nn import (
    MLP,
    ConvModel,
    HeadOutputs,
    HierarchicalHeads,
    HierarchicalLoss,
    HierarchicalTripletMiner,
    Targets,
    TreeTripletSampler,
    parse_losses,
)
from sklearn_hier.taxonomy import Taxonomy, label_paths

__all__ = ["HierarchicalEmbedder"]

# Which head a loss term trains; the leaf scores used by predict come from the first trained one.
_LEAF_HEAD_TERMS = ("L", "HXE", "SOFT")
_PROBE_TAXONOMY = Taxonomy.from_paths(["a", "b"])


def _uses_triplet_term(losses: Any) -> bool:
    """Whether ``losses`` names a term that reads triplets; False for a spec that does not parse."""
    try:
        return HierarchicalLoss(losses, _PROBE_TAXONOMY).uses_triplets
    except (TypeError, ValueError):  # an invalid spec is reported by fit, not by get_params
        return False


@contextmanager
def _seeded(seed: int, device: Any) -> Iterator[None]:
    """Seed torch for the block and give the caller's random state back afterwards."""
    cuda = [torch.device(device)] if torch.device(device).type == "cuda" else []
    with torch.random.fork_rng(devices=cuda):
        torch.manual_seed(seed)
        yield


class HierarchicalEmbedder(ClassNamePrefixFeaturesOutMixin, TransformerMixin, NeuralNet):
    """Learn embeddings whose distances follow a label tree, with the paper's hybrid losses.

    The network is a backbone (the paper's :class:`~sklearn_hier.nn.ConvModel`
    for 3-D mel spectrograms, an :class:`~sklearn_hier.nn.MLP` for 2-D
    features, or any module you pass) followed by a leaf head, one head per
    informative level and a node head. It is trained with a weighted sum of
    loss terms (``losses="PL+T"``: per-level cross-entropy plus a triplet
    loss) on batches of tree triplets, and early-stopped on the validation
    loss without the triplet term, as in the paper [1]_.

    This class *is* a skorch :class:`~skorch.NeuralNet` (a subclass, rather
    than a scikit-learn estimator that owns a net) so that everything skorch
    users know works unchanged: callbacks replaceable by name
    (``callbacks__early_stopping=None``), nested parameters
    (``module__channels=64``, ``optimizer__betas``, ``criterion__hxe_alpha``),
    ``history``, ``warm_start``, ``partial_fit`` and device-aware pickling. The
    behaviour lives in skorch's hooks: ``initialize_module`` (the network is
    sized from the training data), ``initialize_criterion``,
    ``get_split_datasets`` (a split stratified by leaf), ``get_iterator``
    (batches gathered on the device), ``infer`` and ``get_loss``; the training
    loop is skorch's own.

    Parameters
    ----------
    module : "auto", torch.nn.Module instance or class, default="auto"
        The backbone, mapping a batch of inputs to (B, D) embeddings.
        ``"auto"`` builds a :class:`~sklearn_hier.nn.ConvModel` with
        ``n_mels = X.shape[1]`` for 3-D ``X`` and an
        :class:`~sklearn_hier.nn.MLP` with ``n_features = X.shape[1]`` for 2-D
        ``X``; ``module__<name>`` parameters reach its constructor (e.g.
        ``module__channels``, ``module__n_blocks``, ``module__hidden``). A
        module instance is copied, never trained in place.
    losses : str, dict or list, default="PL+T"
        Loss terms and weights: ``"PL+T"``, ``"L + 0.5*T"``, ``{"PL": 1}`` or
        ``["PL", "B"]``. Terms: "L" leaf cross-entropy, "PL" per-level
        cross-entropy, "B" binary cross-entropy on every node, "T" triplet
        loss, "HXE" hierarchical cross-entropy, "SOFT" soft labels
        (see :func:`~sklearn_hier.nn.parse_losses`). Options of the terms go
        through ``criterion__<name>`` (``triplet_distance``,
        ``level_reduction``, ``hxe_alpha``, ``soft_beta``).
    taxonomy : Taxonomy or None, default=None
        The label tree. ``None`` builds it from ``y``. A given taxonomy checks
        the labels (a label that is not one of its leaves is an error) and
        lets ``y`` hold bare leaf names where these are unique.
    sep : str, default="/"
        Separator of label paths in ``y`` (ignored when ``taxonomy`` is given:
        its own separator applies).
    embedding_dim : int, default=256
        Width of the embeddings of the ``"auto"`` backbones. A module you pass
        fixes its own width.
    triplets : {"tree", "batch_hard", "semi_hard"}, default="tree"
        ``"tree"``: the paper's offline sampler, a fresh epoch of tree triplets
        each epoch, each batch holding ``triplets_per_batch`` triplets as
        ``3 * triplets_per_batch`` clips on which every term is computed.
        ``"batch_hard"`` / ``"semi_hard"``: batches of about the same number of
        clips drawn from sibling leaves, triplets mined online from the
        embeddings (positive = deeper lowest common ancestor than negative).
    triplets_per_batch : int, default=32
        Triplets per training batch (the paper: 32, i.e. 96 clips).
    margin : float, default=0.3
        Margin of the triplet loss and of the online miners.
    class_weight : {"balanced"} or None, default=None
        ``"balanced"``: the reference code's class weights, recomputed each
        epoch from how often each leaf occurs in the sampled batches (inverse
        frequency for the cross-entropies, ``pos_weight`` for "B"); never
        applied to the validation loss.
    max_epochs : int, default=2500
        Upper bound on the epochs; early stopping usually ends training first.
    lr : float, default=1e-3
        Learning rate.
    weight_decay : float, default=1e-5
        Weight decay of the optimizer (``optimizer__weight_decay`` overrides it).
    optimizer : torch optimizer class, default=torch.optim.Adam
    callbacks : list of (name, callback) or None, default=None
        Extra skorch callbacks. The defaults, replaceable by name, are
        ``lr_scheduler`` (ReduceLROnPlateau, factor 0.6, patience 50, or 250
        when a triplet term is used), ``early_stopping`` (patience 100, or 500
        with a triplet term; restores the best weights), ``gradient_clipping``
        (norm 1.0) and ``print_log``. Both monitor ``valid_loss``, or
        ``train_loss`` when ``valid_size=None``.
    valid_size : float in (0, 1) or None, default=0.1
        Fraction of each leaf's clips held out for the validation loss; every
        leaf keeps at least one training clip. ``None`` (or 0) trains on all clips.
    batch_size : int, default=256
        Clips per forward pass in validation, ``transform`` and ``predict``
        (training batches are set by ``triplets_per_batch``).
    device : "auto", str or torch.device, default="auto"
        ``"auto"`` uses CUDA when available. A model fit on a GPU unpickles on a
        CPU-only machine.
    precision : {"float32", "bfloat16"}, default="float32"
        ``"bfloat16"`` runs the network under autocast (mixed precision); losses
        and outputs stay float32.
    compile : bool, default=False
        Whether to ``torch.compile`` the network (skorch's ``compile__*``
        parameters apply).
    warm_start : bool, default=False
        Whether ``fit`` continues from the fitted network (the labels must then
        be leaves of ``taxonomy_``).
    random_state : int, RandomState or None, default=None
        Seeds the weights, the validation split and the batches. With a fixed
        seed on CPU, two fits give identical embeddings.
    verbose : int, default=1
        ``0`` silences the per-epoch log.
    **kwargs
        skorch's nested parameters: ``module__*``, ``criterion__*``,
        ``optimizer__*``, ``callbacks__*``, ``compile__*``.

    Attributes
    ----------
    taxonomy_ : Taxonomy
        The tree of the training leaves: a leaf is "seen" when it is a leaf of
        ``taxonomy_``.
    classes_ : ndarray of shape (n_leaves,) or (n_leaves, depth)
        The training leaves in the user's own form, in ``taxonomy_.leaves``
        order (the columns of :meth:`predict_proba`): for 1-D ``y`` the labels
        as given (ints stay ints), for 2-D ``y`` one row per leaf.
    input_shape_ : tuple of int
        Shape of one training sample, e.g. ``(n_mels, n_frames)``.
    n_features_in_ : int
        ``X.shape[1]``: features, or mel bands for 3-D ``X``.
    feature_names_in_ : ndarray of str
        Column names of a DataFrame ``X``.
    module_ : torch.nn.Module
        The trained network (backbone and heads).
    criterion_ : HierarchicalLoss
    history_ : skorch.History
        Per-epoch ``train_loss``, ``valid_loss``, learning rate (``event_lr``) and timing (``dur``).

    See Also
    --------
    sklearn_hier.nn.HierarchicalLoss : The loss terms and their grammar.
    sklearn_hier.nn.TreeTripletSampler : The offline triplet sampler.

    Notes
    -----
    The training clips are copied to the device once; each batch is gathered
    there by an index tensor. On a GPU, results are not bit-for-bit
    reproducible (cuDNN), even with ``random_state``.

    Scorers need only the fitted estimator: ``taxonomy_``, ``transform(X)``
    (float32, shape (n, embedding_dim)) and
    ``predict_level(X, level, source)`` (node keys of ``taxonomy_``).

    References
    ----------
    .. [1] "Hybrid Losses for Hierarchical Embedding Learning", arXiv:2501.12796
       (2025); reference code: the ``tiianhk/label-metric`` repository.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> y = np.repeat(["a/x", "a/y", "b/z", "b/w"], 10)
    >>> centres = {"a/x": [4, 1], "a/y": [4, -1], "b/z": [-4, 1], "b/w": [-4, -1]}
    >>> X = np.array([centres[label] for label in y]) + rng.normal(scale=0.3, size=(40, 2))
    >>> emb = HierarchicalEmbedder(losses="PL+T", embedding_dim=8, module__hidden=(16,),
    ...                            triplets_per_batch=8, max_epochs=30, lr=1e-2, random_state=0, verbose=0)
    >>> emb.fit(X, y).transform(X).shape  # one 8-d embedding per sample
    (40, 8)
    >>> emb.predict_level(X[:2], level=1)  # the top-level node of each sample
    array(['a', 'a'], dtype=object)
    """

    _parameter_constraints: dict = {
        "module": [StrOptions({"auto"}), callable],
        "losses": [str, dict, list, tuple],
        "taxonomy": [Taxonomy, None],
        "sep": [str],
        "embedding_dim": [Interval(Integral, 1, None, closed="left")],
        "triplets": [StrOptions({"tree", "batch_hard", "semi_hard"})],
        "triplets_per_batch": [Interval(Integral, 1, None, closed="left")],
        "margin": [Interval(Real, 0, None, closed="left")],
        "class_weight": [StrOptions({"balanced"}), None],
        "max_epochs": [Interval(Integral, 1, None, closed="left")],
        "lr": [Interval(Real, 0, None, closed="neither")],
        "weight_decay": [Interval(Real, 0, None, closed="left")],
        "optimizer": [callable],
        "callbacks": [list, StrOptions({"disable"}), None],
        "valid_size": [Interval(Real, 0, 1, closed="left"), None],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "device": [str, torch.device],
        "precision": [StrOptions({"float32", "bfloat16"})],
        "compile": ["boolean"],
        "warm_start": ["boolean"],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    # skorch keeps these on the instance after NeuralNet.__init__; scikit-learn forbids
    # public attributes set in __init__, so their unfitted values live on the class.
    history_ = None
    initialized_ = False
    virtual_params_: Mapping[str, Any] = MappingProxyType({})  # skorch replaces it in initialize()
    # Declared up front (as skorch < 0.10 did) so that a module instance may be passed
    # or set before initialisation; "callbacks_" joins the device-mapped attributes
    # because the LR scheduler holds the optimizer, whose state lives on the device.
    prefixes_ = ["module", "criterion", "optimizer", "callbacks", "compile"]
    cuda_dependent_attributes_ = ["module_", "criterion_", "optimizer_", "callbacks_"]
    _modules = ["module"]
    _criteria = ["criterion"]
    _optimizers = ["optimizer"]
    criterion = HierarchicalLoss  # set by `losses`, not a parameter
    use_caching = False
    torch_load_kwargs = None

    def __init__(
        self,
        module: Any = "auto",
        losses: Any = "PL+T",
        taxonomy: Taxonomy | None = None,
        *,
        sep: str = "/",
        embedding_dim: int = 256,
        triplets: str = "tree",
        triplets_per_batch: int = 32,
        margin: float = 0.3,
        class_weight: str | None = None,
        max_epochs: int = 2500,
        lr: float = 1e-3,
        weight_decay: float = 1e-5,
        optimizer: Any = torch.optim.Adam,
        callbacks: list | str | None = None,
        valid_size: float | None = 0.1,
        batch_size: int = 256,
        device: Any = "auto",
        precision: str = "float32",
        compile: bool = False,
        warm_start: bool = False,
        random_state: Any = None,
        verbose: int = 1,
        **kwargs: Any,
    ) -> None:
        # NeuralNet.__init__ is not called: it would set history_, initialized_ and
        # virtual_params_ on the instance (see the class attributes above).
        self.module = module
        self.losses = losses
        self.taxonomy = taxonomy
        self.sep = sep
        self.embedding_dim = embedding_dim
        self.triplets = triplets
        self.triplets_per_batch = triplets_per_batch
        self.margin = margin
        self.class_weight = class_weight
        self.max_epochs = max_epochs
        self.lr = lr
        self.weight_decay = weight_decay
        self.optimizer = optimizer
        self.callbacks = callbacks
        self.valid_size = valid_size
        self.batch_size = batch_size
        self.device = device
        self.precision = precision
        self.compile = compile
        self.warm_start = warm_start
        self.random_state = random_state
        self.verbose = verbose
        self._params_to_validate = set(kwargs)
        vars(self).update(kwargs)

    # ----------------------------------------------------------- parameters
    def _get_param_names(self) -> list[str]:
        # The signature's parameters plus the extra keywords given to __init__ or set_params
        # (module__channels, ...); skorch's default would also list private attributes.
        extra = sorted(key for key in self._params_to_validate if key in vars(self))
        return super(NeuralNet, self)._get_param_names() + extra

    def _validate_params(self) -> None:
        # scikit-learn's _fit_context and skorch's initialize() both call this name.
        validate_parameter_constraints(
            self._parameter_constraints, self.get_params(deep=False), caller_name=type(self).__name__
        )
        super()._validate_params()

    def set_params(self, **params: Any) -> HierarchicalEmbedder:
        """Set parameters, nested ones included (``module__channels``, ``callbacks__early_stopping``).

        Returns
        -------
        self : HierarchicalEmbedder

        Examples
        --------
        >>> HierarchicalEmbedder().set_params(losses="PL", module__channels=64).losses
        'PL'
        """
        if "callbacks" in params and not any(key.startswith("callbacks__") for key in params):
            # A plain list of callbacks is only stored; fit builds them (skorch would build
            # them now and fail on a value that fit's validation should report).
            vars(self)["callbacks"] = params.pop("callbacks")
        return super().set_params(**params)

    @property
    def _default_callbacks(self) -> list[tuple[str, Any]]:
        monitor = "valid_loss" if self._validates() else "train_loss"
        slow = _uses_triplet_term(self.losses)  # the paper's patience is 5x longer with T
        return [
            ("epoch_timer", EpochTimer()),
            ("train_loss", PassthroughScoring(name="train_loss", on_train=True)),
            ("valid_loss", PassthroughScoring(name="valid_loss")),
            (
                "lr_scheduler",
                LRScheduler(policy=ReduceLROnPlateau, monitor=monitor, factor=0.6, patience=250 if slow else 50),
            ),
            (
                "early_stopping",
                EarlyStopping(monitor=monitor, patience=500 if slow else 100, threshold=0.0, load_best=True),
            ),
            ("gradient_clipping", GradientNormClipping(gradient_clip_value=1.0)),
            ("print_log", PrintLog()),
        ]

    def _validates(self) -> bool:
        return isinstance(self.valid_size, Real) and not isinstance(self.valid_size, bool) and self.valid_size > 0

    # ------------------------------------------------------------- devices
    @contextmanager
    def _concrete_device(self) -> Iterator[None]:
        # skorch moves modules with `self.device`, which may be "auto": show it the
        # device "auto" stands for while it does.
        requested = self.device
        vars(self)["device"] = auto_device(requested)
        try:
            yield
        finally:
            vars(self)["device"] = requested

    def _initialize_module(self, reason: str | None = None) -> HierarchicalEmbedder:
        with self._concrete_device():
            return super()._initialize_module(reason=reason)

    def _initialize_criterion(self, reason: str | None = None) -> HierarchicalEmbedder:
        with self._concrete_device():
            return super()._initialize_criterion(reason=reason)

    def load_params(self, *args: Any, **kwargs: Any) -> None:
        """Load parameters saved with :meth:`save_params` (see skorch); the net must be fitted."""
        with self._concrete_device():
            super().load_params(*args, **kwargs)

    def __setstate__(self, state: dict[str, Any]) -> None:
        requested = state["device"]
        if requested == "auto":
            state["device"] = auto_device(requested)  # the map location on this machine
        super().__setstate__(state)
        if requested == "auto":
            vars(self)["device"] = requested

    # ------------------------------------------------------- skorch hooks
    def initialize_module(self) -> HierarchicalEmbedder:
        """Build the backbone and heads for the training data seen by :meth:`fit`."""
        if "taxonomy_" not in vars(self):
            raise RuntimeError(
                f"{type(self).__name__} sizes its network from the training data; call fit(X, y) "
                "rather than initialize()."
            )
        backbone = self._make_backbone(self.get_params_for("module"))
        width = output_width(backbone, self.input_shape_)
        self.module_ = EmbeddingNetwork(backbone, HierarchicalHeads(self.taxonomy_, width), width)
        return self

    def _make_backbone(self, options: dict[str, Any]) -> torch.nn.Module:
        if not (isinstance(self.module, str) and self.module == "auto"):
            if isinstance(self.module, torch.nn.Module) and not options:
                return copy.deepcopy(self.module)
            return self.initialized_instance(self.module, options)
        size_name, backbone = ("n_features", MLP) if len(self.input_shape_) == 1 else ("n_mels", ConvModel)
        for name in (size_name, "embedding_dim"):
            if name in options:
                where = "X.shape[1]" if name == size_name else "the embedding_dim parameter"
                raise ValueError(f"module__{name} cannot be set with module='auto': it comes from {where}.")
        return backbone(**{size_name: self.input_shape_[0], "embedding_dim": self.embedding_dim, **options})

    def initialize_criterion(self) -> HierarchicalEmbedder:
        """Build the :class:`~sklearn_hier.nn.HierarchicalLoss` named by ``losses``."""
        options = {"margin": self.margin, **self.get_params_for("criterion")}
        self.criterion_ = HierarchicalLoss(self.losses, self.taxonomy_, **options)
        return self

    def initialize_optimizer(self, triggered_directly: Any = None) -> HierarchicalEmbedder:
        """Build the optimizer with ``lr`` and ``weight_decay`` (``optimizer__*`` override them)."""
        args, kwargs = self.get_params_for_optimizer("optimizer", self.get_all_learnable_params())
        kwargs.setdefault("weight_decay", self.weight_decay)
        self.optimizer_ = self.optimizer(*args, **kwargs)
        return self

    def get_split_datasets(self, X: TrainingData, y: Any = None, **fit_params: Any) -> tuple[Any, Any]:
        """The training and validation clips that :meth:`fit` split by leaf and put on the device."""
        return X.train, X.valid

    def get_iterator(self, dataset: TensorData, training: bool = False) -> Any:
        """Training batches from the triplet sampler or the miner; validation batches in order."""
        if not training:
            return SequentialBatches(dataset, self.batch_size)
        if self.class_weight is None:
            self.criterion_.set_class_weights(None)
            on_epoch = None
        else:
            on_epoch = self.criterion_.set_class_weights
        if self.triplets == "tree":
            return TripletBatches(dataset, self.taxonomy_, self.triplets_per_batch, on_epoch=on_epoch)
        distance = self.get_params_for("criterion").get("triplet_distance", "cosine")
        miner = HierarchicalTripletMiner(self.triplets, margin=self.margin, distance=distance)
        return MinedBatches(dataset, self.taxonomy_, self.triplets_per_batch, miner, on_epoch=on_epoch)

    def infer(self, x: torch.Tensor, **fit_params: Any) -> tuple[torch.Tensor, HeadOutputs]:
        """Embeddings and head logits of a batch already on the device (float32)."""
        with self._autocast(x.device):
            z, outputs = self.module_(x, **fit_params)
        if self.precision == "float32":
            return z, outputs
        levels = {d: t.float() for d, t in outputs.levels.items()}
        return z.float(), HeadOutputs(leaf=outputs.leaf.float(), levels=levels, nodes=outputs.nodes.float())

    def _autocast(self, device: torch.device) -> Any:
        return torch.autocast(device.type, dtype=torch.bfloat16, enabled=self.precision == "bfloat16")

    def get_loss(self, y_pred: Any, y_true: Any, X: Any = None, training: bool = False) -> torch.Tensor:
        """The weighted loss; the triplet terms and class weights count in training only (the paper's validation)."""
        z, outputs = y_pred
        codes, triplets = y_true
        targets = Targets.from_codes(codes, self.taxonomy_)
        if training and callable(triplets):
            triplets = triplets(z.detach(), targets.levels)
        loss, _ = self.criterion_(z, outputs, targets, triplets, include_triplet=training, weighted=training)
        return loss

    # ------------------------------------------------------------------ fit
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X: Any, y: Any, **fit_params: Any) -> HierarchicalEmbedder:
        """Build the taxonomy from ``y``, size the network from ``X`` and train it.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_mels, n_frames) or (n_samples, n_features)
            Mel spectrograms (the ConvModel backbone) or feature rows (the MLP).
        y : array-like of shape (n_samples,) or (n_samples, depth)
            Label paths (``"Brass/Trumpet/open"``), flat labels, or one column
            per level.
        **fit_params : dict
            Passed to the backbone's ``forward``.

        Returns
        -------
        self : HierarchicalEmbedder

        Raises
        ------
        ValueError
            Before any training: NaN or infinity in ``X``, an ``X`` of the
            wrong dimension, ``y`` of another length, fewer than 2 leaves, a
            label that is not a leaf of ``taxonomy``, an invalid ``losses``.

        Examples
        --------
        >>> import numpy as np
        >>> X, y = np.array([[0.0, 1.0], [0.1, 1.0], [1.0, 0.0], [1.0, 0.1]] * 4), ["p/a", "p/b", "q/c", "q/d"] * 4
        >>> emb = HierarchicalEmbedder(embedding_dim=3, max_epochs=2, random_state=0, verbose=0).fit(X, y)
        >>> emb.taxonomy_.leaves, len(emb.history)
        (('p/a', 'p/b', 'q/c', 'q/d'), 2)
        """
        return self._train(X, y, reset=not (self.warm_start and self.__sklearn_is_fitted__()), fit_params=fit_params)

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X: Any, y: Any, **fit_params: Any) -> HierarchicalEmbedder:
        """Train for ``max_epochs`` more epochs without re-initialising (fit if not fitted yet).

        The labels must be leaves of ``taxonomy_`` and ``X`` must have the
        training shape.

        Returns
        -------
        self : HierarchicalEmbedder

        Examples
        --------
        >>> import numpy as np
        >>> X, y = np.array([[0.0, 1.0], [0.1, 1.0], [1.0, 0.0], [1.0, 0.1]] * 4), ["p/a", "p/b", "q/c", "q/d"] * 4
        >>> emb = HierarchicalEmbedder(embedding_dim=3, max_epochs=2, random_state=0, verbose=0).fit(X, y)
        >>> len(emb.partial_fit(X, y).history)  # two more epochs
        4
        """
        return self._train(X, y, reset=not self.__sklearn_is_fitted__(), fit_params=fit_params)

    def _train(self, X: Any, y: Any, reset: bool, fit_params: dict[str, Any]) -> HierarchicalEmbedder:
        if reset:
            vars(self).pop("module_", None)  # a refit that fails leaves no stale model behind
        X = self._validate_X(X, reset=reset)
        y = self._validate_y(y, X)
        codes = self._learn_labels(y) if reset else self.taxonomy_.encode(label_paths(y, self.taxonomy_.sep))
        parse_losses(self.losses)  # an unknown term name fails here, listing the valid names
        device = check_device(self.device)
        rng = check_random_state(self.random_state)
        split_seed, torch_seed, train_seed, valid_seed = rng.randint(np.iinfo(np.int32).max, size=4)
        if self._validates():
            train, valid = leaf_stratified_split(codes, self.valid_size, split_seed)
        else:
            train, valid = np.arange(len(codes)), None
        self._warn_if_no_triplet(codes[train])
        if reset:
            self.input_shape_ = tuple(X.shape[1:])
        data = TrainingData(
            train=TensorData.from_arrays(X if valid is None else X[train], codes[train], device, int(train_seed)),
            valid=None if valid is None else TensorData.from_arrays(X[valid], codes[valid], device, int(valid_seed)),
        )
        with _seeded(int(torch_seed), device):
            if reset:
                self.initialize()
            NeuralNet.partial_fit(self, data, None, **fit_params)
        return self

    def _validate_X(self, X: Any, reset: bool) -> np.ndarray:
        X = validate_data(self, X, reset=reset, allow_nd=True, dtype=np.float32)
        if reset:
            if isinstance(self.module, str) and X.ndim not in (2, 3):
                raise ValueError(
                    "With module='auto', X must be 2-D (n_samples, n_features) for the MLP or 3-D "
                    f"(n_samples, n_mels, n_frames) for the ConvModel; got shape {X.shape}."
                )
        elif X.ndim != len(self.input_shape_) + 1:
            raise ValueError(
                f"X has shape {X.shape}, but {type(self).__name__} was fit on samples of shape "
                f"{self.input_shape_}: expected a {len(self.input_shape_) + 1}-D X."
            )
        return X

    def _validate_y(self, y: Any, X: np.ndarray) -> np.ndarray:
        if y is None:
            raise ValueError(f"{type(self).__name__} requires y to be passed, but the target y is None.")
        y = check_array(y, ensure_2d=False, dtype=None, input_name="y")
        if y.ndim not in (1, 2):
            raise ValueError(f"y must be 1-D (labels or paths) or 2-D (one column per level); got shape {y.shape}.")
        check_consistent_length(X, y)
        return y

    def _learn_labels(self, y: np.ndarray) -> np.ndarray:
        """Set ``taxonomy_`` and ``classes_`` from ``y``; return the leaf code of each sample."""
        if self.taxonomy is None:
            taxonomy = Taxonomy.from_y(y, sep=self.sep)
            codes = taxonomy.encode(y)
        else:
            full = self.taxonomy.decode(self.taxonomy.encode(y))  # checks every label against the tree
            taxonomy = self.taxonomy.restrict(np.unique(full))
            codes = taxonomy.encode(full)
        if taxonomy.n_leaves < 2:
            raise ValueError(
                f"y has {taxonomy.n_leaves} class (leaf) {list(taxonomy.leaves)}; "
                f"{type(self).__name__} needs at least 2 leaves to learn from."
            )
        first = np.unique(codes, return_index=True)[1]
        self.taxonomy_ = taxonomy
        self.classes_ = y[first]
        return codes

    def _warn_if_no_triplet(self, train_codes: np.ndarray) -> None:
        if not _uses_triplet_term(self.losses):
            return
        if TreeTripletSampler(self.taxonomy_, train_codes).n_triplets == 0:
            warnings.warn(
                f"losses={self.losses!r} includes a triplet term, but no triplet can be formed from the training "
                "labels: a triplet needs an anchor and a positive whose lowest common ancestor lies deeper than "
                "the anchor's with a negative (for instance two clips of one leaf and a clip of another leaf). "
                "The triplet term will contribute 0; add clips per leaf or drop it from losses.",
                UserWarning,
                stacklevel=3,
            )

    # ------------------------------------------------------------ inference
    def __sklearn_is_fitted__(self) -> bool:
        return "module_" in vars(self) and "taxonomy_" in vars(self)

    @property
    def _n_features_out(self) -> int:
        check_is_fitted(self)
        return self.module_.embedding_dim

    def _batches(self, X: np.ndarray) -> Iterator[torch.Tensor]:
        device = next(self.module_.parameters(), torch.empty(0)).device
        for first in range(0, len(X), self.batch_size):
            yield to_device_tensor(np.ascontiguousarray(X[first : first + self.batch_size]), device)

    def _run(self, X: Any, heads: bool) -> Iterator[Any]:
        """Validate ``X`` and yield, per batch, the embeddings (or embeddings and head outputs)."""
        X = self._validate_X(X, reset=False)
        self.module_.eval()
        for xb in self._batches(X):
            # Entered and left per batch, so no grad mode leaks into the caller between batches.
            with torch.no_grad():
                if heads:
                    out = self.infer(xb)
                else:
                    with self._autocast(xb.device):
                        out = self.module_.backbone(xb).float()
            yield out

    def transform(self, X: Any) -> np.ndarray:
        """Embed ``X``.

        Parameters
        ----------
        X : array-like of the training sample shape (any number of frames for the ConvModel)

        Returns
        -------
        Z : ndarray of float32 of shape (n_samples, embedding_dim)

        Examples
        --------
        >>> import numpy as np
        >>> X, y = np.array([[0.0, 1.0], [0.1, 1.0], [1.0, 0.0], [1.0, 0.1]] * 4), ["p/a", "p/b", "q/c", "q/d"] * 4
        >>> emb = HierarchicalEmbedder(embedding_dim=3, max_epochs=2, random_state=0, verbose=0).fit(X, y)
        >>> emb.transform(X[:2]).dtype, emb.transform(X[:2]).shape
        (dtype('float32'), (2, 3))
        """
        check_is_fitted(self)
        return np.concatenate([z.cpu().numpy() for z in self._run(X, heads=False)], dtype=np.float32)

    @property
    def level_heads_trained_(self) -> bool:
        """Whether the per-level heads were trained (PL in ``losses``).

        ``predict_level(..., source="level")`` needs them; the
        ``lsa_accuracy_aware`` scorer is NaN without them.
        """
        check_is_fitted(self)
        return "PL" in self._trained_terms()

    def _trained_terms(self) -> set[str]:
        return {name for name, weight in parse_losses(self.losses).items() if weight > 0}

    def _leaf_head(self) -> str:
        """Which head gives the leaf scores: the leaf head if a term trains it, else the level or node heads."""
        names = self._trained_terms()
        if names & set(_LEAF_HEAD_TERMS):
            return "leaf"
        for name, head in (("PL", "levels"), ("B", "nodes")):
            if name in names:
                return head
        if names and all(HierarchicalLoss([name], _PROBE_TAXONOMY).uses_triplets for name in names):
            raise ValueError(
                f"losses={self.losses!r} trains no classification head, so there is nothing to predict with; "
                "use transform() for embeddings, or add L, PL, B, HXE or SOFT to losses."
            )
        return "leaf"  # a registered term of unknown kind: assume it trains the leaf head

    def _leaf_scores(self, outputs: HeadOutputs, head: str) -> torch.Tensor:
        """(B, n_leaves) log-scores of the leaves from the trained head."""
        if head == "leaf":
            return outputs.leaf
        tax = self.taxonomy_
        device = outputs.leaf.device
        if head == "levels":  # log of the product of the per-level probabilities along each leaf's path
            table = torch.as_tensor(np.array(tax.leaf_level_codes()), device=device)
            scores = torch.zeros_like(outputs.leaf)
            for depth, logits in outputs.levels.items():
                column = table[:, depth - 1]
                on_path = column >= 0
                scores[:, on_path] += F.log_softmax(logits, dim=1)[:, column[on_path]]
            return scores
        # Bernoulli log-likelihood of each leaf's path multi-hot vector under the node head.
        hot = torch.as_tensor(tax.path_multi_hot(list(tax.leaves)), device=device)
        return F.logsigmoid(outputs.nodes) @ hot.T + F.logsigmoid(-outputs.nodes) @ (1 - hot).T

    def _predict_codes(self, X: Any) -> np.ndarray:
        check_is_fitted(self)
        head = self._leaf_head()
        return np.concatenate([self._leaf_scores(out, head).argmax(1).cpu().numpy() for _, out in self._run(X, True)])

    def predict_proba(self, X: Any) -> np.ndarray:
        """Probability of each training leaf.

        From the leaf head when a term trains it (L, HXE, SOFT); otherwise the
        product of the per-level probabilities along each leaf's path (PL), or
        the node head's likelihood of each path (B), normalised over the leaves.

        Returns
        -------
        proba : ndarray of float32 of shape (n_samples, n_leaves)
            Columns follow :attr:`classes_`.

        Examples
        --------
        >>> import numpy as np
        >>> X, y = np.array([[0.0, 1.0], [0.1, 1.0], [1.0, 0.0], [1.0, 0.1]] * 4), ["p/a", "p/b", "q/c", "q/d"] * 4
        >>> emb = HierarchicalEmbedder(embedding_dim=3, max_epochs=2, random_state=0, verbose=0).fit(X, y)
        >>> proba = emb.predict_proba(X[:2])
        >>> proba.shape, bool(np.allclose(proba.sum(axis=1), 1))
        ((2, 4), True)
        """
        check_is_fitted(self)
        head = self._leaf_head()
        parts = [torch.softmax(self._leaf_scores(out, head), dim=1).cpu().numpy() for _, out in self._run(X, True)]
        return np.concatenate(parts, dtype=np.float32)

    def predict(self, X: Any) -> np.ndarray:
        """The most probable training leaf of each sample, in the form of ``y``.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,) or (n_samples, depth)
            Rows of :attr:`classes_`.

        Examples
        --------
        >>> import numpy as np
        >>> X, y = np.array([[0.0, 1.0], [0.1, 1.0], [1.0, 0.0], [1.0, 0.1]] * 4), ["p/a", "p/b", "q/c", "q/d"] * 4
        >>> emb = HierarchicalEmbedder(embedding_dim=3, max_epochs=2, random_state=0, verbose=0).fit(X, y)
        >>> set(emb.predict(X)) <= set(y)
        True
        """
        check_is_fitted(self)
        return self.classes_[self._predict_codes(X)]

    def predict_level(self, X: Any, level: int, source: str = "auto") -> np.ndarray:
        """The node of ``taxonomy_`` at depth ``level`` that each sample belongs to.

        Parameters
        ----------
        X : array-like
        level : int
            Depth in ``taxonomy_``: 1 is the top level, ``taxonomy_.depth`` the deepest.
        source : {"auto", "level", "leaf"}, default="auto"
            ``"level"``: the per-level head of that depth (the "aware"
            prediction); ``"leaf"``: the most probable leaf, walked up to that
            depth (the "blind" prediction; a leaf shallower than ``level`` is
            returned as is). ``"auto"`` uses the per-level head when ``losses``
            includes PL, else the leaf. ``"level"`` without PL in ``losses``
            raises: those heads were never trained.

        Returns
        -------
        nodes : ndarray of object of shape (n_samples,)
            Node keys (path strings) of ``taxonomy_``.

        Examples
        --------
        >>> import numpy as np
        >>> X, y = np.array([[0.0, 1.0], [0.1, 1.0], [1.0, 0.0], [1.0, 0.1]] * 4), ["p/a", "p/b", "q/c", "q/d"] * 4
        >>> emb = HierarchicalEmbedder(embedding_dim=3, max_epochs=2, random_state=0, verbose=0).fit(X, y)
        >>> set(emb.predict_level(X, level=1)) <= {"p", "q"}
        True
        """
        check_is_fitted(self)
        tax = self.taxonomy_
        if isinstance(level, bool) or not isinstance(level, Integral) or not 1 <= level <= tax.depth:
            raise ValueError(f"level must be an int in [1, {tax.depth}] (the depths of taxonomy_); got {level!r}.")
        if source not in ("auto", "level", "leaf"):
            raise ValueError(f"source must be one of 'auto', 'level', 'leaf'; got {source!r}.")
        if source == "auto":
            source = "level" if "PL" in self._trained_terms() else "leaf"
        if source == "level" and not self.level_heads_trained_:
            # An untrained head would answer at random and pass for a measurement.
            raise ValueError(
                f"source='level' needs the per-level heads, which losses={self.losses!r} does not train; "
                "add 'PL' to losses or use source='leaf'."
            )
        nodes = np.asarray(tax.levels[level], dtype=object)
        if source == "level" and level not in tax.informative_levels:
            return np.repeat(nodes, len(self._validate_X(X, reset=False)))  # a single node at this depth
        if source == "level":
            parts = [out.levels[level].argmax(1).cpu().numpy() for _, out in self._run(X, True)]
            return nodes[np.concatenate(parts)]
        return tax.ancestor_at(tax.decode(self._predict_codes(X)), level)

    def score(self, X: Any, y: Any) -> float:
        """Leaf accuracy: the fraction of samples whose predicted leaf is their label.

        A label that is not a leaf of ``taxonomy_`` (an unseen class) counts as
        a miss. For embedding quality (MNR, NDCG, RP@k) pass one of
        :mod:`sklearn_hier.metrics`' scorers as ``scoring=``.

        Parameters
        ----------
        X : array-like
        y : array-like of shape (n_samples,) or (n_samples, depth)

        Returns
        -------
        score : float

        Examples
        --------
        >>> import numpy as np
        >>> X, y = np.array([[0.0, 1.0], [0.1, 1.0], [1.0, 0.0], [1.0, 0.1]] * 4), ["p/a", "p/b", "q/c", "q/d"] * 4
        >>> emb = HierarchicalEmbedder(embedding_dim=3, max_epochs=2, random_state=0, verbose=0).fit(X, y)
        >>> 0.0 <= emb.score(X, y) <= 1.0
        True
        """
        predicted = self._predict_codes(X)
        paths = label_paths(self._validate_y(y, predicted), self.taxonomy_.sep)
        known = {path: self._code_or_missing(path) for path in set(paths)}
        truth = np.fromiter((known[p] for p in paths), dtype=np.int64, count=len(paths))
        return float(np.mean(predicted == truth))

    def _code_or_missing(self, path: str) -> int:
        try:
            return int(self.taxonomy_.encode([path])[0])
        except ValueError:
            return -1

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.target_tags.required = True
        tags.input_tags.three_d_array = True
        tags.transformer_tags.preserves_dtype = ["float32"]
        return tags
