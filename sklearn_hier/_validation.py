"""The input contracts and option checks of the estimator, run before any training.

One function per kind of input: ``X`` (arrays and tensors alike), ``y``, the
labels against a given taxonomy, the ``metric`` / ``geometry`` pair and the
ball's options. Each raises an error that names the problem before any long
work starts, and none writes to what the caller passed.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from sklearn.utils.validation import check_array, check_consistent_length, validate_data

from sklearn_hier._tensor_input import checked_tensor, host_array
from sklearn_hier._warnings import warn_at_caller
from sklearn_hier.nn import LabelSetTable, LossSpec, TreeTripletSampler
from sklearn_hier.nn.distances import Distance, as_distance
from sklearn_hier.nn.hyperbolic import MIN_CURVATURE, MIN_EPS, boundary_eps, check_ball_options, tangent_reach
from sklearn_hier.taxonomy import Taxonomy, is_multilabel, label_sets

__all__ = [
    "GEOMETRY_METRIC",
    "GEOMETRY_OPTIONS",
    "MIN_REACH",
    "WAVEFORM_MIN_FEATURES",
    "check_ball",
    "check_label_set_fit",
    "learn_label_sets",
    "rarest_label_strata",
    "refuse_bool",
    "learn_labels",
    "resolve_distance",
    "saturation_message",
    "validate_X",
    "validate_y",
    "warn_if_no_triplet",
]

GEOMETRY_OPTIONS = ("c", "learn_curvature", "clip_norm", "eps")
# The shortest reach of the ball's tangent vectors (tangent_reach) accepted: at 0.01 a fit on tree_blobs scored chance
# (0.125 over 8 leaves after 20 epochs), at 0.1 it scored 0.25, at the default's 3.1 it scored 0.69.
MIN_REACH = 1e-2
# The metric that metric="auto" resolves to under each geometry.
GEOMETRY_METRIC = {"euclidean": "cosine", "poincare": "poincare"}
# A 2-D X this wide is taken for raw waveforms (0.1 s of 44.1 kHz audio is 4410 samples), not features.
WAVEFORM_MIN_FEATURES = 4000


def refuse_bool(X: Any) -> None:
    """Refuse bool ``X`` (array or tensor): True / False are not measurements; the waveforms' contract refuses them."""
    dtype = getattr(X, "dtype", None)
    columns = getattr(X, "dtypes", ())  # a DataFrame's, one per column
    if (
        dtype == torch.bool
        or (isinstance(dtype, np.dtype) and dtype.kind == "b")
        or any(getattr(column, "kind", None) == "b" for column in columns)
    ):
        raise TypeError(
            "X holds bool values, which are not features; pass numbers (e.g. X.astype(np.float32) or "
            "X.float() when True / False are meant as 1 / 0)."
        )


def saturation_message(c: float, eps: float, clip_norm: float, name: str) -> str:
    reach = tangent_reach(c, eps)
    return (
        f"{name}={c:.3g} with geometry__clip_norm={clip_norm:g}: features longer than artanh(1 - eps) / sqrt(c) = "
        f"{reach:.3g} land on the ball's boundary margin, where their lengths are lost and the heads read vectors no "
        f"longer than {reach:.3g}. Usable: c <= {(tangent_reach(1.0, eps) / clip_norm) ** 2:.3g} at this clip_norm, or "
        f"geometry__clip_norm <= {reach:.3g} at this c."
    )


def _warn_if_spellings_merge(y: np.ndarray, codes: np.ndarray) -> None:
    """Warn when two spellings in ``y`` are one label after Unicode NFC normalisation (predict returns only the first).

    Only strings can differ so: numbers of one value are one label, and the
    label contract refuses mixed types.
    """
    seen: dict[int, Any] = {}
    for i, (row, code) in enumerate(zip(y.tolist(), codes.tolist(), strict=True)):
        cells = row if y.ndim == 2 else [row]
        spelling = tuple(cell if isinstance(cell, str) else None for cell in cells)
        first = seen.setdefault(code, (spelling, i))
        if spelling != first[0]:
            shown = [sep_cells[0] if y.ndim == 1 else list(sep_cells) for sep_cells in (first[0], spelling)]
            warn_at_caller(
                f"y spells one label two ways that Unicode NFC normalisation makes equal: {shown[0]!r} (sample "
                f"{first[1]}; {_code_points(shown[0])}) and {shown[1]!r} (sample {i}; {_code_points(shown[1])}). "
                "They are one "
                f"class, and predict returns the first spelling only, so comparing predict's output with y as "
                f"strings (accuracy_score) counts the other as a miss, where score() does not. Normalise y first: "
                "unicodedata.normalize('NFC', label) for each label."
            )
            return


def _code_points(spelling: Any) -> str:
    """The non-ASCII code points of a spelling, where two spellings that print alike differ."""
    text = spelling if isinstance(spelling, str) else "".join(str(cell) for cell in spelling if cell is not None)
    return " ".join(f"U+{ord(char):04X}" for char in text if ord(char) > 127) or "ASCII only"


def validate_X(estimator: Any, X: Any, reset: bool) -> np.ndarray | torch.Tensor:
    """The one input contract of ``X``, for arrays and tensors alike (``docs/user_guide.md``'s table).

    A CPU tensor is checked as the array it views, so both give the same
    result or the same error; a tensor on another device is checked
    where it lies, by the same rules, and stays there.
    """
    if isinstance(X, torch.Tensor):
        X = checked_tensor(X)
        if X.device.type == "cpu":
            X = host_array(X)
    refuse_bool(X)
    if isinstance(X, torch.Tensor):
        X = _validate_tensor(estimator, X, reset)
    else:
        X = validate_data(estimator, X, reset=reset, allow_nd=True, dtype=np.float32)
    if reset:
        auto = isinstance(estimator.module, str)
        if auto and X.ndim not in (2, 3):
            raise ValueError(
                "With module='auto', X must be 2-D (n_samples, n_features) for the MLP or 3-D "
                f"(n_samples, n_mels, n_frames) for the ConvModel; got shape {X.shape}."
            )
        if auto and X.ndim == 2 and X.shape[1] >= WAVEFORM_MIN_FEATURES:
            raise ValueError(
                f"X has shape {X.shape}: {X.shape[1]} columns look like raw waveforms, not features. "
                "Put a MelTransformer step before the embedder (Pipeline([('mel', MelTransformer()), "
                "('emb', HierarchicalEmbedder())])), or pass module=MLP to train an MLP on them."
            )
    elif X.ndim != len(estimator.input_shape_) + 1:
        raise ValueError(
            f"X has shape {X.shape}, but {type(estimator).__name__} was fit on samples of shape "
            f"{estimator.input_shape_}: expected a {len(estimator.input_shape_) + 1}-D X."
        )
    return X


def _validate_tensor(estimator: Any, X: torch.Tensor, reset: bool) -> torch.Tensor:
    """A device tensor ``X`` checked where it lies (no copy to the host), as ``validate_data`` checks arrays.

    Any real dtype (float, signed or unsigned int) is cast to float32, as
    ``validate_data(dtype=np.float32)`` casts arrays; the result is contiguous.
    """
    if X.ndim < 2 or len(X) == 0 or X[0].numel() == 0:
        raise ValueError(
            f"X must be a tensor of shape (n_samples, n_features) or (n_samples, n_mels, n_frames) holding at "
            f"least one sample and one feature; got shape {tuple(X.shape)}."
        )
    X = X.to(torch.float32).contiguous()
    if not bool(torch.isfinite(X).all()):  # one device-to-host read of a single flag
        raise ValueError("Input X contains NaN or infinity.")
    if reset:
        vars(estimator).pop("feature_names_in_", None)
        estimator.n_features_in_ = int(X.shape[1])
    elif X.shape[1] != estimator.n_features_in_:
        raise ValueError(
            f"X has {X.shape[1]} features, but {type(estimator).__name__} is expecting {estimator.n_features_in_} "
            "features as input."
        )
    return X


def validate_y(estimator: Any, y: Any, X: Any) -> Any:
    """``y`` checked for its length and form: an array of single labels, or label sets as given (:func:`is_multilabel`).

    Label sets are read (and each label checked) by :func:`learn_label_sets`
    against the taxonomy; single labels by :func:`learn_labels`.
    """
    if y is None:
        raise ValueError(f"{type(estimator).__name__} requires y to be passed, but the target y is None.")
    if is_multilabel(y):
        check_consistent_length(X, y)
        return y
    # NaN is left to label_paths: it ends a path in a 2-D row (the docs' contract) and is refused in 1-D.
    y = check_array(y, ensure_2d=False, dtype=None, input_name="y", ensure_all_finite=False)
    if y.ndim not in (1, 2):
        raise ValueError(f"y must be 1-D (labels or paths) or 2-D (one column per level); got shape {y.shape}.")
    check_consistent_length(X, y)
    return y


def learn_labels(
    y: np.ndarray, given: Taxonomy | None, sep: str, owner: str
) -> tuple[Taxonomy, np.ndarray, np.ndarray]:
    """The tree of the training leaves, the leaves in the user's form and the leaf code of each sample."""
    if given is None:
        taxonomy = Taxonomy.from_y(y, sep=sep)
        codes = taxonomy.encode(y)
    else:
        full = given.decode(given.encode(y))  # checks every label against the tree
        taxonomy = given.restrict(np.unique(full))
        codes = taxonomy.encode(full)
    if taxonomy.n_leaves < 2:
        raise ValueError(
            f"y has {taxonomy.n_leaves} class (leaf) {list(taxonomy.leaves)}; "
            f"{owner} needs at least 2 leaves to learn from."
        )
    _warn_if_spellings_merge(y, codes)
    first = np.unique(codes, return_index=True)[1]
    return taxonomy, y[first], codes


def learn_label_sets(
    y: Any, given: Taxonomy | None, sep: str, owner: str
) -> tuple[Taxonomy, LabelSetTable, np.ndarray]:
    """The taxonomy of the training labels (a given one restricted to them), the table of distinct sets, the codes.

    Every label is checked by the label-set contract (:func:`label_sets`):
    against ``given`` when there is one (an unknown label is refused by
    name), else as paths split by ``sep``.
    """
    sets = label_sets(y, taxonomy=given, sep=sep if given is None else given.sep)
    taxonomy = Taxonomy.from_label_sets(list(sets), sep=sep) if given is None else given.restrict(list(sets))
    table, codes = LabelSetTable.encode(sets, taxonomy)
    if len(table.classes) < 2:
        raise ValueError(
            f"y has {len(table.classes)} class {list(table.classes)} in its label sets; {owner} needs at least 2 "
            "classes to learn from."
        )
    return taxonomy, table, codes


def rarest_label_strata(table: LabelSetTable, codes: np.ndarray) -> np.ndarray:
    """Per label set (code), the class it holds that the fewest clips hold: the strata of a validation split.

    Stratifying on each clip's rarest label keeps every class in training
    (each stratum keeps a clip), where stratifying on the sets themselves
    would hold out nothing: most sets of polyphonic clips are unique.

    Examples
    --------
    >>> from sklearn_hier.taxonomy import Taxonomy
    >>> table, codes = LabelSetTable.encode([{"a", "b"}, {"a"}, {"a"}, {"b"}], Taxonomy.from_paths(["a", "b"]))
    >>> [sorted(labels) for labels in table.sets]
    [['a'], ['a', 'b'], ['b']]
    >>> rarest_label_strata(table, codes).tolist()  # "b" (2 clips) is rarer than "a" (3 clips)
    [0, 1, 1]
    """
    indicator = table.indicator()
    counts = np.bincount(codes, minlength=len(table.sets)) @ indicator
    # Among each set's classes, the fewest clips; ties go to the first class.
    return np.argmin(np.where(indicator > 0, counts, np.inf), axis=1)


def check_label_set_fit(spec: LossSpec, triplets: str, leaf_source: str) -> None:
    """Refuse, before training, what cannot train on label sets: a term that does not, tree triplets, one path."""
    refused = [name for name, term in spec.terms.items() if not term.trains_on_label_sets]
    if refused:
        raise ValueError(
            f"y holds label sets (multi-label), and losses={spec.canonical!r} has {', '.join(refused)}, which "
            "train(s) on one leaf per sample only. Terms that train on label sets: L, PL, B, T (and terms of your "
            "own that declare trains_on_label_sets = True)."
        )
    if spec.uses_triplets and triplets == "tree":
        raise ValueError(
            "y holds label sets (multi-label), and triplets='tree' samples the paper's triplets from one leaf per "
            "clip; mine them online instead: triplets='semi_hard' or 'batch_hard' (a triplet is then valid when "
            "the anchor's ancestor closure shares more nodes with the positive's than with the negative's)."
        )
    if leaf_source == "level_product":
        raise ValueError(
            "leaf_source='level_product' multiplies the per-level probabilities along one path, and a label set "
            "has no one path; use leaf_source='auto', 'leaf', 'deepest_level' or 'nodes'."
        )


def warn_if_no_triplet(spec: LossSpec, taxonomy: Taxonomy, train_codes: np.ndarray) -> None:
    if not spec.uses_triplets:
        return
    if TreeTripletSampler(taxonomy, train_codes).n_triplets == 0:
        warn_at_caller(
            f"losses={spec.canonical!r} includes a triplet term, but no triplet can be formed from the training "
            "labels: a triplet needs an anchor and a positive whose lowest common ancestor lies deeper than "
            "the anchor's with a negative (for instance two clips of one leaf and a clip of another leaf). "
            "The triplet term will contribute 0; add clips per leaf or drop it from losses."
        )


def resolve_distance(metric: str | Distance, geometry: str, options: dict[str, Any]) -> Distance:
    """``metric`` resolved under ``geometry`` (unbound) and checked against it and the ``geometry__*`` options.

    ``"auto"`` is the geometry's own distance; a name is built
    (:func:`~sklearn_hier.nn.distances.as_distance`); a
    :class:`~sklearn_hier.nn.distances.Distance` object is used as given.
    The Poincaré ball's points are compared by a distance on the ball, and
    only there; the ball's curvature is ``geometry__c``.
    """
    unknown = sorted(set(options) - set(GEOMETRY_OPTIONS))
    if unknown or (options and geometry != "poincare"):
        raise ValueError(
            f"geometry__* parameters set the Poincaré ball of geometry='poincare' (geometry__"
            f"{', geometry__'.join(GEOMETRY_OPTIONS)}); got {', '.join('geometry__' + k for k in sorted(options))} "
            f"with geometry={geometry!r}."
        )
    # A name gets the ball's curvature when the network is built (Distance.bound_to); an object must agree with it.
    distance = as_distance(GEOMETRY_METRIC[geometry] if isinstance(metric, str) and metric == "auto" else metric)
    if (geometry == "poincare") != distance.on_ball:
        raise ValueError(
            f"metric={metric!r} does not fit geometry={geometry!r}: the Poincaré ball's points are compared by "
            "their geodesic distance (metric='poincare'), and only there. Use metric='auto'."
        )
    c = options.get("c", 1.0)
    given = getattr(distance, "curvature_value", c)
    if isinstance(metric, Distance) and distance.on_ball and given != float(c):
        raise ValueError(
            f"metric={metric!r} has curvature {given:g}, but the ball's is geometry__c={c!r}: the ball "
            "sets the curvature its distance follows; set geometry__c instead."
        )
    return distance


def check_ball(geometry: str, options: dict[str, Any]) -> None:
    """The ``geometry__*`` options checked by type and by what they do to the heads, before any training.

    The heads read the logarithmic map of the points, which gives back no
    vector longer than ``tangent_reach(c, eps)``: features longer than
    that land on the boundary margin and lose their length. Refused when
    that reach is below ``MIN_REACH`` (the heads would read nothing),
    warned about when ``clip_norm`` lets features exceed it.
    """
    if geometry != "poincare":
        return
    options = {"c": 1.0, "learn_curvature": False, "clip_norm": 1.0, "eps": None, **options}
    c, _, clip_norm, eps = check_ball_options(**options, prefix="geometry__")
    margin = boundary_eps(torch.float32) if eps is None else eps
    reach = tangent_reach(c, margin)
    if reach < MIN_REACH:
        shown_eps = f"{eps:g}" if eps is not None else f"None (float32's {margin:g})"
        # The reach scales as 1 / sqrt(c): the largest c that keeps it is (reach at c = 1 / MIN_REACH) ** 2.
        best_c = (tangent_reach(1.0, margin) / MIN_REACH) ** 2
        best_eps = 1 - math.tanh(MIN_REACH * math.sqrt(c))
        fixes = [f"geometry__c <= {best_c:.3g} at this eps"] if best_c > MIN_CURVATURE else []
        fixes += [f"geometry__eps <= {best_eps:.3g} at this c"] if best_eps >= MIN_EPS else []
        fixes = fixes or ["lower both (the defaults geometry__c=1.0, geometry__eps=None reach 3.1)"]
        raise ValueError(
            f"geometry__c={c:g} with geometry__eps={shown_eps} leaves the heads nothing to read: the ball keeps "
            f"tangent vectors no longer than artanh(1 - eps) / sqrt(c) = {reach:.3g}, below {MIN_REACH}, so every "
            f"clip would get the same prediction. Usable: {' or '.join(fixes)}."
        )
    if clip_norm is not None and clip_norm > reach:
        warn_at_caller(saturation_message(c, margin, clip_norm, "geometry__c"))
