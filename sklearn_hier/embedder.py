"""HierarchicalEmbedder: the scikit-learn estimator that learns tree-shaped embeddings.

This module holds the estimator's contract only: its parameters, ``fit`` and
``partial_fit``, and inference. What a fit decides is resolved once into a
frozen plan (:mod:`sklearn_hier._plan`, after the input contracts of
:mod:`sklearn_hier._validation`), the network, criterion and skorch net are
built from it (:mod:`sklearn_hier._build`), and training is the net's
(:mod:`sklearn_hier._net`, on the data and batches of :mod:`sklearn_hier._data`
and :mod:`sklearn_hier._batches`).
"""

from __future__ import annotations

from collections.abc import Iterator
from numbers import Integral, Real
from typing import Any

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin, _fit_context
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from sklearn_hier._build import build_net, seeded
from sklearn_hier._data import TensorData, home_device
from sklearn_hier._decision import tune_threshold
from sklearn_hier._net import NonFiniteTrainingError
from sklearn_hier._plan import FITTED_FIELDS, NET_PREFIXES, make_plan
from sklearn_hier._validation import GEOMETRY_METRIC, saturation_message, validate_X, validate_y
from sklearn_hier._warnings import warn_at_caller
from sklearn_hier.nn import Distance, HeadOutputs, HierarchicalLoss, LabelSetTable, leaf_log_scores
from sklearn_hier.nn.distances import SIMILARITIES
from sklearn_hier.nn.heads import LEAF_ROUTES, class_probabilities
from sklearn_hier.nn.hyperbolic import boundary_eps, tangent_reach
from sklearn_hier.taxonomy import Taxonomy, is_multilabel, label_paths, label_sets

__all__ = ["HierarchicalEmbedder"]

# What fit decides; a failed or interrupted fit leaves none of it behind.
_FITTED = ("net_", "_continue_rng", "_threshold_setting", "threshold_", *(f"{name}_" for name in FITTED_FIELDS))


class HierarchicalEmbedder(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """Learn embeddings whose distances follow a label tree, with the paper's hybrid losses.

    The network is a backbone (the paper's :class:`~sklearn_hier.nn.ConvModel`
    for 3-D mel spectrograms, an :class:`~sklearn_hier.nn.MLP` for 2-D
    features, or any module you pass) followed by a leaf head, one head per
    informative level and a node head. It is trained with a weighted sum of
    loss terms (``losses="PL+T"``: per-level cross-entropy plus a triplet
    loss) on batches of tree triplets, and early-stopped on the validation
    loss without the triplet term, as in the paper [1]_.

    Design: a scikit-learn estimator that *owns* a skorch net (``net_``, an
    :class:`~sklearn_hier._net.EmbeddingNet`), rather than a subclass of
    :class:`~skorch.NeuralNet`. ``NeuralNet.__init__`` sets public attributes
    (``history_``, ``initialized_``, ``virtual_params_``) and takes defaults
    that are objects (``train_split=ValidSplit(5)``), which scikit-learn's
    estimator checks forbid, and a subclass could only pass them by
    re-declaring or bypassing skorch internals. With composition both sides
    stay honest: this class follows scikit-learn's contract (parameters
    untouched until ``fit``, everything ``fit`` decides in trailing-underscore
    attributes, so ``set_params`` after fit changes nothing until the next
    fit), and ``net_`` is a plain skorch net, built by ``NeuralNet.__init__``
    and changed only through skorch's public hooks, on which all of skorch's
    API works (``net_.forward``, ``forward_iter``, ``get_dataset``,
    ``save_params`` / ``load_params``, ``Checkpoint``, ``LoadInitState``,
    ``set_params``, ``partial_fit``). The estimator passes skorch's nested
    parameters to the net it builds: ``module__*`` (the backbone),
    ``criterion__*`` (the loss), ``optimizer__*``, ``callbacks__*`` (replace a
    callback by name: ``callbacks__early_stopping=None``) and ``compile__*``.
    skorch's ``train_split`` is set by ``valid_size`` (``valid_size=None`` is
    ``train_split=None``); its training iterator is set by ``triplets``.

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
        Loss terms and weights: ``"PL+T"``, ``"L + 0.5*T"``, ``["PL", "B"]``,
        or a dict from a name to a weight, a term object or ``(weight, term)``:
        ``{"PL": 1.0, "MR": MarginRanking(margin=0.2)}`` with a
        :class:`~sklearn_hier.nn.LossTerm` of your own. Built-in names: "L"
        leaf cross-entropy, "PL" per-level cross-entropy, "B" binary
        cross-entropy on every node, "T" triplet loss, "HXE" hierarchical
        cross-entropy, "SOFT" soft labels (see :class:`~sklearn_hier.nn.LossSpec`).
        Options of any term are nested parameters ``criterion__<NAME>__<option>``
        (``criterion__T__margin=0.2``, ``criterion__PL__reduction="mean"``,
        ``criterion__MR__margin=0.1``), grid-searchable. Weights may be 0, but
        not all of them. A term object is copied, never trained in place.
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
    metric : {"auto", "cosine", "dot", "euclidean", "poincare"} or Distance, default="auto"
        The distance between embeddings used by the triplet loss, the online
        miners and, by default, the scorers (a
        :class:`~sklearn_hier.nn.Distance`: :class:`~sklearn_hier.nn.Cosine`,
        :class:`~sklearn_hier.nn.Dot`, :class:`~sklearn_hier.nn.Euclidean`,
        :class:`~sklearn_hier.nn.Poincare`, or one of your own). ``"auto"`` is
        the geometry's own: ``"cosine"`` for ``geometry="euclidean"`` (the
        paper's), ``"poincare"`` (the negated geodesic distance) for
        ``geometry="poincare"``, which admits no other metric.
    geometry : {"euclidean", "poincare"}, default="euclidean"
        The space of the embeddings. ``"poincare"`` maps the backbone's
        features onto the Poincaré ball with a
        :class:`~sklearn_hier.nn.PoincareEmbedding` (norm clipping, then the
        exponential map at the origin, kept strictly inside the ball, float32
        even under bfloat16 autocast): the triplet term and the online miners
        use the geodesic distance, the classification heads read the
        logarithmic map at the origin of the points (tangent vectors, where
        linear heads work as on Euclidean features), and :meth:`transform`
        returns points on the ball of curvature ``-curvature_``. Its options
        go through ``geometry__<name>``: ``geometry__c`` (curvature magnitude,
        default 1.0), ``geometry__learn_curvature`` (default False),
        ``geometry__clip_norm`` (feature norm before the map, default 1.0) and
        ``geometry__eps`` (boundary margin in [1e-6, 1), default by dtype);
        numpy scalars are accepted. ``fit`` checks them by what they do: the
        heads see no tangent vector longer than ``artanh(1 - eps) / sqrt(c)``
        (3.1 at the defaults), so a ``c`` or ``eps`` that brings this reach
        below 0.01 is refused (every clip would get the same prediction), and
        a ``clip_norm`` above it warns (longer features land on the
        boundary margin and lose their length), each naming the usable range.
    class_weight : {"balanced"} or None, default=None
        ``"balanced"``: the reference code's class weights, recomputed each
        epoch from how often each leaf occurs in the sampled batches (inverse
        frequency for the cross-entropies, ``pos_weight`` for "B"); never
        applied to the validation loss.
    leaf_source : {"auto", "leaf", "deepest_level", "level_product", "nodes"}, default="auto"
        How :meth:`predict`, :meth:`predict_proba`, :meth:`score` and the
        "blind" unseen-leaf accuracy pick a leaf from the heads (see
        :func:`~sklearn_hier.nn.leaf_log_scores`): ``"leaf"`` the leaf head;
        ``"deepest_level"`` the deepest per-level head, the paper's route for
        models trained without a leaf term; ``"level_product"`` the product of
        the per-level probabilities along each leaf's path; ``"nodes"`` the
        node head's likelihood of each path. ``"auto"``: the leaf head when a
        term trains it (L, HXE, SOFT), else ``"deepest_level"`` when PL does,
        else ``"nodes"`` when B does. A route whose head no weighted term
        trains is refused at fit. Resolved into :attr:`leaf_source_`.
    threshold : float in (0, 1) or "auto", default="auto"
        On label sets, the probability at which :meth:`predict` and
        :meth:`predict_label_sets` mark a class (each class has its own
        sigmoid). ``"auto"``: the value of a grid from 0.05 to 0.95 (step
        0.05) whose predictions best reproduce the validation clips' label
        sets (micro F1; ties go to the value closest to 0.5), chosen at the
        end of ``fit`` and ``partial_fit``; 0.5 (scikit-learn's convention)
        when ``valid_size`` holds nothing out. A short training leaves rare
        classes' sigmoids below 0.5, so that a fixed 0.5 predicts empty sets.
        Resolved into :attr:`threshold_`; ignored with one label per sample.
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
        (training batches are set by ``triplets_per_batch``). Inference always
        runs on batches of exactly this size (a short last batch is padded),
        so a sample's embedding does not depend on its batch mates.
    device : "auto", str or torch.device, default="auto"
        ``"auto"`` uses CUDA when available. A model fit on a GPU unpickles on a
        CPU-only machine.
    precision : {"auto", "float32", "bfloat16"}, default="auto"
        ``"bfloat16"`` runs the network under autocast (mixed precision); losses
        and outputs stay float32. ``"auto"`` is ``"bfloat16"`` on CUDA and
        ``"float32"`` elsewhere (:attr:`precision_` holds the choice).
    compile : "auto" or bool, default="auto"
        Whether to ``torch.compile`` the network's embedding (backbone and
        embedding map) for training; ``"auto"`` compiles on CUDA with
        ``triplets="tree"`` and not on the CPU. ``compile__*`` parameters reach
        ``torch.compile``. What it costs and gains: ``docs/performance.md``.
    channels_last : "auto" or bool, default="auto"
        Store the convolution weights channels-last (NHWC), the layout in
        which cuDNN runs fastest. ``"auto"``: on CUDA when the backbone has
        convolutions.
    data_on_device : "auto" or bool, default="auto"
        Copy the training clips to the device once (``True``), or keep them in
        host memory and upload each batch (``False``), for data that do not
        fit on the device. ``"auto"``: on the device when the clips take at
        most half of its free memory. Both give the same batches.
    warm_start : bool, default=False
        Whether ``fit`` continues from the fitted network (the labels must then
        be leaves of ``taxonomy_``).
    random_state : int, RandomState or None, default=None
        Seeds the weights, the validation split and the batches. With a fixed
        seed on CPU, two fits give identical embeddings.
    verbose : int, default=1
        ``0`` silences the per-epoch log.
    **kwargs
        Nested parameters: skorch's ``module__*``, ``criterion__*``,
        ``optimizer__*``, ``callbacks__*``, ``compile__*``, and
        ``geometry__*`` (see ``geometry``).

    Attributes
    ----------
    taxonomy_ : Taxonomy
        The tree of the training leaves: a leaf is "seen" when it is a leaf of
        ``taxonomy_``. On label sets, the taxonomy of the training labels (a
        given ``taxonomy``, a DAG included, restricted to them and their
        ancestors).
    classes_ : ndarray of shape (n_leaves,), (n_leaves, depth) or (n_classes,)
        The training leaves in the user's own form, in ``taxonomy_.leaves``
        order (the columns of :meth:`predict_proba`): for 1-D ``y`` the labels
        as given (ints stay ints), for 2-D ``y`` one row per leaf. On label
        sets, the classes: every node that is a label of some training
        sample (labels may be inner nodes), as node keys in
        ``taxonomy_.nodes`` order.
    input_shape_ : tuple of int
        Shape of one training sample, e.g. ``(n_mels, n_frames)``.
    n_features_in_ : int
        ``X.shape[1]``: features, or mel bands for 3-D ``X``.
    feature_names_in_ : ndarray of str
        Column names of a DataFrame ``X``.
    net_ : EmbeddingNet
        The trained skorch net.
    module_ : torch.nn.Module
        ``net_.module_``: the trained network (backbone, embedding map, heads).
    criterion_ : HierarchicalLoss
        ``net_.criterion_``: the spec's terms bound to this fit.
    history_ : skorch.History
        ``net_.history``: per-epoch ``train_loss``, ``valid_loss``, learning
        rate (``event_lr``) and timing (``dur``); also readable as ``history``.
    loss_spec_ : LossSpec
        ``losses`` and the ``criterion__*`` options, parsed: its ``weights``,
        ``terms`` (unbound copies) and ``canonical`` spelling.
    leaf_source_ : {"leaf", "deepest_level", "level_product", "nodes"} or None
        ``leaf_source`` resolved: the route from the heads to the leaf that
        answers :meth:`predict`, :meth:`predict_proba`, :meth:`score` and the
        blind unseen-leaf accuracy; ``None`` when no term trains a head (e.g.
        ``losses="T"``).
    level_heads_trained_ : bool
        Whether a weighted term trained the per-level heads (PL).
    threshold_ : float or None
        On label sets, ``threshold`` resolved: the probability at which a
        class is predicted. None with one label per sample.
    device_ : torch.device
        The device the model was trained on (``device`` resolved).
    precision_ : {"float32", "bfloat16"}
        ``precision`` resolved.
    compile_, channels_last_, data_on_device_ : bool
        ``compile``, ``channels_last`` and ``data_on_device`` resolved.
    geometry_ : {"euclidean", "poincare"}
        The geometry of the embeddings :meth:`transform` returns.
    distance_ : Distance
        ``metric`` resolved and bound to the network (for the ball, it follows
        the learned curvature): the distance of training, and the one
        :func:`~sklearn_hier.metrics.hierarchy_scorers` ranks by by default.
    metric_ : str
        ``distance_.name``.
    curvature_ : float or None
        The ball's curvature magnitude ``c`` (learned or fixed) for
        ``geometry="poincare"``, from ``distance_``; None otherwise.

    See Also
    --------
    sklearn_hier.nn.LossSpec : The loss terms and their grammar.
    sklearn_hier.nn.TreeTripletSampler : The offline triplet sampler.

    Notes
    -----
    A ``KeyboardInterrupt`` during ``fit`` or ``partial_fit`` propagates (after
    skorch's own cleanup) and leaves the estimator unfitted, so nothing scores
    a cut-short fit. A 2-D ``X`` of 4000 or more columns with ``module="auto"``
    is taken for raw waveforms and refused (a
    :class:`~sklearn_hier.audio.MelTransformer` step is missing); pass
    ``module=MLP`` to train an MLP on so many features.

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
        "metric": [StrOptions({"auto", *SIMILARITIES}), Distance],
        "geometry": [StrOptions(set(GEOMETRY_METRIC))],
        "class_weight": [StrOptions({"balanced"}), None],
        "leaf_source": [StrOptions({"auto", *LEAF_ROUTES})],
        "threshold": [Interval(Real, 0, 1, closed="neither"), StrOptions({"auto"})],
        "max_epochs": [Interval(Integral, 1, None, closed="left")],
        "lr": [Interval(Real, 0, None, closed="neither")],
        "weight_decay": [Interval(Real, 0, None, closed="left")],
        "optimizer": [callable],
        "callbacks": [list, StrOptions({"disable"}), None],
        "valid_size": [Interval(Real, 0, 1, closed="left"), None],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "device": [str, torch.device],
        "precision": [StrOptions({"auto", "float32", "bfloat16"})],
        "compile": ["boolean", StrOptions({"auto"})],
        "channels_last": ["boolean", StrOptions({"auto"})],
        "data_on_device": ["boolean", StrOptions({"auto"})],
        "warm_start": ["boolean"],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

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
        metric: str | Distance = "auto",
        geometry: str = "euclidean",
        class_weight: str | None = None,
        leaf_source: str = "auto",
        threshold: float | str = "auto",
        max_epochs: int = 2500,
        lr: float = 1e-3,
        weight_decay: float = 1e-5,
        optimizer: Any = torch.optim.Adam,
        callbacks: list | str | None = None,
        valid_size: float | None = 0.1,
        batch_size: int = 256,
        device: Any = "auto",
        precision: str = "auto",
        compile: bool | str = "auto",
        channels_last: bool | str = "auto",
        data_on_device: bool | str = "auto",
        warm_start: bool = False,
        random_state: Any = None,
        verbose: int = 1,
        **kwargs: Any,
    ) -> None:
        self.module = module
        self.losses = losses
        self.taxonomy = taxonomy
        self.sep = sep
        self.embedding_dim = embedding_dim
        self.triplets = triplets
        self.triplets_per_batch = triplets_per_batch
        self.metric = metric
        self.geometry = geometry
        self.class_weight = class_weight
        self.leaf_source = leaf_source
        self.threshold = threshold
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
        self.channels_last = channels_last
        self.data_on_device = data_on_device
        self.warm_start = warm_start
        self.random_state = random_state
        self.verbose = verbose
        self._nested_params = set(kwargs)
        vars(self).update(kwargs)

    # ----------------------------------------------------------- parameters
    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """Parameters of the signature and the nested ones given (``module__channels``, ...).

        Examples
        --------
        >>> HierarchicalEmbedder(module__channels=64).get_params()["module__channels"]
        64
        """
        params = super().get_params(deep=deep)
        params.update({key: vars(self)[key] for key in sorted(self._nested_params) if key in vars(self)})
        return params

    def set_params(self, **params: Any) -> HierarchicalEmbedder:
        """Set parameters, nested ones included (``module__channels``, ``callbacks__early_stopping``).

        A fitted model is not changed: the new values apply from the next
        :meth:`fit`.

        Returns
        -------
        self : HierarchicalEmbedder

        Examples
        --------
        >>> HierarchicalEmbedder().set_params(losses="PL", module__channels=64).losses
        'PL'
        """
        for key in [key for key in params if "__" in key]:
            prefix = key.split("__", 1)[0]
            if prefix not in NET_PREFIXES:
                raise ValueError(
                    f"Invalid parameter {key!r} for {type(self).__name__}: nested parameters take one of the "
                    f"prefixes {', '.join(p + '__' for p in NET_PREFIXES)}. skorch's train_split is set by "
                    "valid_size and its training iterator by triplets; to change the fitted skorch net "
                    f"itself, use net_.set_params({key}=...)."
                )
            vars(self)[key] = params.pop(key)
            self._nested_params.add(key)
        return super().set_params(**params)

    # ------------------------------------------------------------- fitted state
    def __sklearn_is_fitted__(self) -> bool:
        return "net_" in vars(self)

    @property
    def module_(self) -> torch.nn.Module:
        """The trained network, ``net_.module_``."""
        check_is_fitted(self)
        return self.net_.module_

    @property
    def criterion_(self) -> HierarchicalLoss:
        """The loss, ``net_.criterion_``."""
        check_is_fitted(self)
        return self.net_.criterion_

    @property
    def history_(self) -> Any:
        """The training history, ``net_.history`` (skorch's ``History``)."""
        check_is_fitted(self)
        return self.net_.history

    @property
    def history(self) -> Any:
        """Alias of :attr:`history_`, under skorch's name."""
        return self.history_

    @property
    def distance_(self) -> Distance:
        """The distance of training, bound to the network (``net_.criterion_.distance``)."""
        check_is_fitted(self)
        return self.net_.criterion_.distance

    @property
    def metric_(self) -> str:
        """``distance_.name``."""
        return self.distance_.name

    @property
    def curvature_(self) -> float | None:
        """The ball's curvature magnitude ``c`` (``geometry="poincare"``), from ``distance_``; else None."""
        distance = self.distance_
        return getattr(distance, "curvature_value", None) if distance.on_ball else None

    @property
    def _n_features_out(self) -> int:
        check_is_fitted(self)
        return self.net_.module_.embedding_dim

    # ------------------------------------------------------------------ fit
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X: Any, y: Any, **fit_params: Any) -> HierarchicalEmbedder:
        """Build the taxonomy from ``y``, size the network from ``X`` and train it.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_mels, n_frames) or (n_samples, n_features)
            Mel spectrograms (the ConvModel backbone) or feature rows (the MLP).
        y : array-like of shape (n_samples,) or (n_samples, depth), or label sets
            Label paths (``"Brass/Trumpet/open"``), flat labels, or one column
            per level. Or label sets (multi-label): a sequence of ``set`` /
            ``frozenset`` of paths (or of node ids of a DAG ``taxonomy``), or
            hiclass's 3-D array (:func:`~sklearn_hier.taxonomy.label_sets`
            gives the rules). On label sets, "L" trains one sigmoid per class
            of :attr:`classes_`, "PL" independent sigmoids per level and "B"
            one per node, on the ancestor closure; "T" takes triplets mined
            online (``triplets="semi_hard"`` or ``"batch_hard"``), valid when
            the anchor's closure shares more nodes with the positive's than
            with the negative's; HXE and SOFT are refused. Training batches
            are then shuffled clips, and the validation split is stratified
            by each clip's rarest label.
        **fit_params : dict
            Passed to the backbone's ``forward``.

        Returns
        -------
        self : HierarchicalEmbedder

        Raises
        ------
        ValueError
            Before any training: NaN or infinity in ``X``, an ``X`` of the
            wrong dimension or one that looks like raw waveforms, ``y`` of
            another length, fewer than 2 leaves, a label that is not a leaf of
            ``taxonomy`` (on label sets: not a node of it, or an empty set), an
            invalid ``losses`` or one whose weights are all 0, on label sets a
            term that does not train on them or ``triplets="tree"`` with a
            triplet term,
            a ``geometry__*`` option of the wrong type or range, or one that
            leaves the heads nothing to read.
        TypeError
            Before any training: a bool ``X``; meta, sparse or complex tensors
            raise ``ValueError`` naming the fix.
        NonFiniteTrainingError
            When a training or validation loss or a weight becomes NaN or
            infinite (``sklearn_hier.NonFiniteTrainingError``, a
            ``FloatingPointError``); the message names the epoch, the batch and
            a likely cause, and the estimator is left unfitted. Set
            ``callbacks__finite_training=None`` for skorch's behaviour
            (training goes on and ``fit`` returns).
        KeyboardInterrupt
            When training is interrupted; the estimator is then unfitted.

        Examples
        --------
        >>> import numpy as np
        >>> X, y = np.array([[0.0, 1.0], [0.1, 1.0], [1.0, 0.0], [1.0, 0.1]] * 4), ["p/a", "p/b", "q/c", "q/d"] * 4
        >>> emb = HierarchicalEmbedder(embedding_dim=3, max_epochs=2, random_state=0, verbose=0).fit(X, y)
        >>> emb.taxonomy_.leaves, len(emb.history_)
        (('p/a', 'p/b', 'q/c', 'q/d'), 2)
        """
        if self.warm_start and self.__sklearn_is_fitted__():
            return self._continue(X, y, fit_params)
        return self._fit_new(X, y, fit_params)

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X: Any, y: Any, **fit_params: Any) -> HierarchicalEmbedder:
        """Train the fitted net for ``max_epochs`` more epochs (fit if not fitted yet).

        The labels must be leaves of ``taxonomy_`` and ``X`` must have the
        training shape. The net keeps the settings of its fit: parameters set
        since then apply from the next :meth:`fit`, ``random_state`` included.
        Each call draws the seeds of its batches and of torch from a random
        stream that :meth:`fit` seeded from ``random_state``, so the calls
        after one fit are reproducible, differ from one another, and do not
        read ``random_state`` again.

        Returns
        -------
        self : HierarchicalEmbedder

        Examples
        --------
        >>> import numpy as np
        >>> X, y = np.array([[0.0, 1.0], [0.1, 1.0], [1.0, 0.0], [1.0, 0.1]] * 4), ["p/a", "p/b", "q/c", "q/d"] * 4
        >>> emb = HierarchicalEmbedder(embedding_dim=3, max_epochs=2, random_state=0, verbose=0).fit(X, y)
        >>> len(emb.partial_fit(X, y).history_)  # two more epochs
        4
        """
        if not self.__sklearn_is_fitted__():
            return self._fit_new(X, y, fit_params)
        return self._continue(X, y, fit_params)

    def _fit_new(self, X: Any, y: Any, fit_params: dict[str, Any]) -> HierarchicalEmbedder:
        self._forget_fit()  # a refit that fails leaves no stale model behind
        plan, X, codes = make_plan(self, X, y)
        data = TensorData.from_arrays(X, codes, home_device(X), plan.seeds.train)
        with seeded(plan.seeds.torch, plan.device):
            net = build_net(plan)
            net.initialize()
            net.partial_fit(data, None, **fit_params)
        vars(self).update(plan.fitted_attributes())
        # Later partial fits draw their seeds from here, not from random_state, which set_params may have changed.
        self._continue_rng = np.random.RandomState(plan.seeds.later)
        self.net_ = net
        # Kept as fit read it: partial fits follow the fit's settings, not parameters set since.
        self._threshold_setting = plan.params["threshold"]
        self.threshold_ = self._resolve_threshold(X, codes)
        self._warn_if_learned_curvature_saturates()
        return self

    def _resolve_threshold(self, X: Any, codes: np.ndarray) -> float | None:
        """``threshold`` on label sets, ``"auto"`` tuned on the validation clips of the net's split; else None."""
        table, threshold = self._label_set_table(), self._threshold_setting
        if table is None:
            return None
        if not (isinstance(threshold, str) and threshold == "auto"):
            return float(threshold)
        split = self.net_.train_split
        if split is None:
            return 0.5
        # The net's own split, drawn again: the same seed gives the same validation clips it trained without.
        _, valid = split.indices(codes)
        return tune_threshold(table.indicator()[codes[valid]] > 0, self.predict_proba(X[valid]))

    def _warn_if_learned_curvature_saturates(self) -> None:
        ball = self.net_.module_.embedding_map
        if self.geometry_ != "poincare" or not ball.raw_curvature.requires_grad or ball.clip_norm is None:
            return
        eps = boundary_eps(torch.float32) if ball.eps is None else ball.eps
        if ball.clip_norm > tangent_reach(self.curvature_, eps):
            warn_at_caller(saturation_message(self.curvature_, eps, ball.clip_norm, "The learned curvature_"))

    def _continue(self, X: Any, y: Any, fit_params: dict[str, Any]) -> HierarchicalEmbedder:
        X = validate_X(self, X, reset=False)
        codes = self._codes(validate_y(self, y, X))
        torch_seed, train_seed = (int(seed) for seed in self._continue_rng.randint(2**31 - 1, size=2))
        data = TensorData.from_arrays(X, codes, home_device(X), train_seed)
        try:
            with seeded(torch_seed, self.device_):
                self.net_.partial_fit(data, None, **fit_params)
        except (KeyboardInterrupt, NonFiniteTrainingError):
            self._forget_fit()  # a cut-short or diverged model must not pass for a fitted one
            raise
        self.threshold_ = self._resolve_threshold(X, codes)  # "auto" follows the model just trained
        return self

    def _codes(self, y: Any) -> np.ndarray:
        """The codes of ``y`` in the fitted tables: leaves of ``taxonomy_``, or the fit's label sets."""
        table = self._label_set_table()
        if is_multilabel(y) != (table is not None):
            fitted, given = ("label sets", "one label per sample") if table is not None else ("one label", "label sets")
            raise ValueError(f"This model was fit on {fitted} per sample; y holds {given}. Refit with fit().")
        if table is None:
            return self.taxonomy_.encode(label_paths(y, self.taxonomy_.sep))
        row = {labels: i for i, labels in enumerate(table.sets)}
        sets = label_sets(y, taxonomy=self.taxonomy_)
        for i, labels in enumerate(sets):
            if labels not in row:
                # The label-set tables are fixed at fit (the heads, the class weights and the split read them).
                raise ValueError(
                    f"The label set {sorted(labels)} of sample {i} is not one of the {len(row)} label sets this "
                    "model was fit on; partial_fit and warm_start train on those sets only. Refit with fit()."
                )
        return np.fromiter((row[labels] for labels in sets), dtype=np.int64, count=len(sets))

    def _label_set_table(self) -> LabelSetTable | None:
        """The fit's distinct label sets (the rows of its targets), or None for one leaf per sample."""
        return self.net_.criterion_.tables.label_sets

    def _forget_fit(self) -> None:
        for name in _FITTED:
            vars(self).pop(name, None)

    # ------------------------------------------------------------ inference
    def _outputs(self, X: Any) -> Iterator[tuple[torch.Tensor, HeadOutputs]]:
        """Validate ``X`` and yield, per batch, the embeddings and head outputs (through skorch's ``forward_iter``)."""
        check_is_fitted(self)
        X = validate_X(self, X, reset=False)
        yield from self.net_.forward_iter(TensorData.unlabelled(X), training=False, device=None)

    def transform(self, X: Any) -> np.ndarray:
        """Embed ``X``.

        Parameters
        ----------
        X : array-like of the training sample shape (any number of frames for the ConvModel)

        Returns
        -------
        Z : ndarray of float32 of shape (n_samples, embedding_dim)
            With ``geometry="poincare"``, points strictly inside the ball of
            curvature ``-curvature_`` (norm below ``1 / sqrt(curvature_)``).

        Examples
        --------
        >>> import numpy as np
        >>> X, y = np.array([[0.0, 1.0], [0.1, 1.0], [1.0, 0.0], [1.0, 0.1]] * 4), ["p/a", "p/b", "q/c", "q/d"] * 4
        >>> emb = HierarchicalEmbedder(embedding_dim=3, max_epochs=2, random_state=0, verbose=0).fit(X, y)
        >>> emb.transform(X[:2]).dtype, emb.transform(X[:2]).shape
        (dtype('float32'), (2, 3))
        """
        return np.concatenate([z.cpu().numpy() for z, _ in self._outputs(X)], dtype=np.float32)

    def _leaf_scores(self, X: Any) -> Iterator[torch.Tensor]:
        """Per batch, the (B, n_leaves) leaf log-scores from the head fixed at fit (``leaf_source_``).

        On label sets, the (B, n_classes) class probabilities instead.
        """
        check_is_fitted(self)
        if self.leaf_source_ is None:
            raise ValueError(
                f"This model was fit with losses={self.loss_spec_.canonical!r}, which trains no classification head, "
                "so there is nothing to predict with; use transform() for embeddings, or refit with L, PL, B, HXE "
                "or SOFT in losses."
            )
        multilabel = self._label_set_table() is not None
        for _, outputs in self._outputs(X):
            if multilabel:
                yield class_probabilities(outputs, self.taxonomy_, self.classes_, self.leaf_source_)
            else:
                yield leaf_log_scores(outputs, self.taxonomy_, self.leaf_source_)

    def _predict_codes(self, X: Any) -> np.ndarray:
        self._refuse_label_sets("leaf codes")
        return np.concatenate([scores.argmax(1).cpu().numpy() for scores in self._leaf_scores(X)])

    def _refuse_label_sets(self, what: str) -> None:
        if self._label_set_table() is not None:
            raise ValueError(
                f"This model was fit on label sets, which have no single {what}; use predict_label_sets(), "
                "predict() (an indicator matrix over classes_) or predict_proba()."
            )

    def predict_proba(self, X: Any) -> np.ndarray:
        """Probability of each training leaf (on label sets: of each class, independently).

        From the route ``fit`` chose (:attr:`leaf_source_`, see
        ``leaf_source``): the leaf head when a term trains it (L, HXE, SOFT);
        otherwise, by default, the deepest per-level head (PL, the paper's
        route), or the node head's likelihood of each path (B), normalised
        over the leaves. On label sets each class has its own sigmoid
        (:func:`~sklearn_hier.nn.heads.class_probabilities`): the rows do not
        sum to 1, as in scikit-learn's multi-label convention.

        Returns
        -------
        proba : ndarray of float32 of shape (n_samples, n_leaves) or (n_samples, n_classes)
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
        if self._label_set_table() is not None:
            return np.concatenate([p.cpu().numpy() for p in self._leaf_scores(X)], dtype=np.float32)
        parts = [torch.softmax(scores, dim=1).cpu().numpy() for scores in self._leaf_scores(X)]
        return np.concatenate(parts, dtype=np.float32)

    def predict(self, X: Any) -> np.ndarray:
        """The most probable training leaf of each sample, in the form of ``y``; on label sets, an indicator matrix.

        On label sets, a class is predicted when its probability
        (:meth:`predict_proba`) is at least :attr:`threshold_` (see
        ``threshold``): scikit-learn's multi-label convention, an indicator
        matrix whose columns follow :attr:`classes_` (:meth:`predict_label_sets`
        gives the sets).

        Returns
        -------
        y_pred : ndarray of shape (n_samples,), (n_samples, depth) or (n_samples, n_classes)
            Rows of :attr:`classes_`; on label sets, 0/1 ints.

        Examples
        --------
        >>> import numpy as np
        >>> X, y = np.array([[0.0, 1.0], [0.1, 1.0], [1.0, 0.0], [1.0, 0.1]] * 4), ["p/a", "p/b", "q/c", "q/d"] * 4
        >>> emb = HierarchicalEmbedder(embedding_dim=3, max_epochs=2, random_state=0, verbose=0).fit(X, y)
        >>> set(emb.predict(X)) <= set(y)
        True
        """
        check_is_fitted(self)
        if self._label_set_table() is not None:
            return (self.predict_proba(X) >= self.threshold_).astype(np.int64)
        return self.classes_[self._predict_codes(X)]

    def predict_label_sets(self, X: Any) -> list[frozenset[str]]:
        """The labels of each sample as a frozenset of node keys of ``taxonomy_``.

        On label sets, the classes :meth:`predict` marks (possibly none); with
        one label per sample, the one-label set of the predicted leaf, so that
        both kinds of model answer in one form.

        Returns
        -------
        sets : list of frozenset of str, length n_samples

        Examples
        --------
        >>> import numpy as np
        >>> X = np.array([[0.0, 1.0], [1.0, 0.0], [1.0, 1.0]] * 6)
        >>> y = [{"p/a"}, {"q/c"}, {"p/a", "q/c"}] * 6
        >>> emb = HierarchicalEmbedder(losses="B", embedding_dim=3, max_epochs=2, random_state=0, verbose=0)
        >>> emb.fit(X, y).classes_
        array(['p/a', 'q/c'], dtype=object)
        >>> emb.predict(X[:2]).shape, all(labels <= {"p/a", "q/c"} for labels in emb.predict_label_sets(X))
        ((2, 2), True)
        """
        check_is_fitted(self)
        if self._label_set_table() is None:
            return [frozenset([leaf]) for leaf in self.taxonomy_.decode(self._predict_codes(X))]
        return [frozenset(self.classes_[row > 0]) for row in self.predict(X)]

    def predict_level(self, X: Any, level: int, source: str = "auto") -> np.ndarray:
        """The node of ``taxonomy_`` at depth ``level`` that each sample belongs to.

        Parameters
        ----------
        X : array-like
        level : int
            Depth in ``taxonomy_``: 1 is the top level, ``taxonomy_.depth`` the deepest.
        source : {"auto", "level", "leaf"}, default="auto"
            ``"level"``: the per-level head of that depth (the "aware"
            prediction); ``"leaf"``: the leaf :meth:`predict` gives (by the
            route :attr:`leaf_source_`), walked up to that depth (the "blind"
            prediction; a leaf shallower than ``level`` is returned as is).
            ``"auto"`` uses the per-level head when the fit trained it
            (:attr:`level_heads_trained_`), else the leaf.
            ``"level"`` without trained per-level heads raises.

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
        self._refuse_label_sets("node per level")
        tax = self.taxonomy_
        if isinstance(level, bool) or not isinstance(level, Integral) or not 1 <= level <= tax.depth:
            raise ValueError(f"level must be an int in [1, {tax.depth}] (the depths of taxonomy_); got {level!r}.")
        if source not in ("auto", "level", "leaf"):
            raise ValueError(f"source must be one of 'auto', 'level', 'leaf'; got {source!r}.")
        if source == "auto":
            source = "level" if self.level_heads_trained_ else "leaf"
        if source == "level" and not self.level_heads_trained_:
            # An untrained head would answer at random and pass for a measurement.
            raise ValueError(
                f"source='level' needs the per-level heads, which losses={self.loss_spec_.canonical!r} did not train; "
                "refit with 'PL' in losses or use source='leaf'."
            )
        nodes = np.asarray(tax.levels[level], dtype=object)
        if source == "level" and level not in tax.informative_levels:
            return np.repeat(nodes, len(validate_X(self, X, reset=False)))  # a single node at this depth
        if source == "level":
            parts = [out.levels[level].argmax(1).cpu().numpy() for _, out in self._outputs(X)]
            return nodes[np.concatenate(parts)]
        return tax.ancestor_at(tax.decode(self._predict_codes(X)), level)

    def score(self, X: Any, y: Any) -> float:
        """Leaf accuracy: the fraction of samples whose predicted leaf is their label.

        A label that is not a leaf of ``taxonomy_`` (an unseen class) counts as
        a miss. On label sets, the subset accuracy (scikit-learn's multi-label
        accuracy): the fraction of samples whose predicted set is their set.
        For embedding quality (MNR, NDCG, RP@k) pass one of
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
        check_is_fitted(self)
        if self._label_set_table() is not None:
            predicted_sets = self.predict_label_sets(X)
            true_sets = label_sets(validate_y(self, y, predicted_sets), sep=self.taxonomy_.sep)
            return float(np.mean([p == t for p, t in zip(predicted_sets, true_sets, strict=True)]))
        predicted = self._predict_codes(X)
        paths = label_paths(validate_y(self, y, predicted), self.taxonomy_.sep)
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
