"""The fit plan: everything ``fit`` decides, resolved once from the parameters and the data, and frozen.

:func:`make_plan` checks the inputs (:mod:`sklearn_hier._validation`) and
resolves every setting ("auto" device, precision, compile, channels-last, data
placement, the loss specification, the distance, the taxonomy, the seeds) into
a :class:`FitPlan`. The builders (:mod:`sklearn_hier._build`) are functions of
the plan, and the estimator's fitted attributes are its fields
(:meth:`FitPlan.fitted_attributes`), so nothing is read back from the net.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from numbers import Real
from types import MappingProxyType
from typing import Any

import numpy as np
import torch
from sklearn.utils import check_random_state

from sklearn_hier import _net
from sklearn_hier._build import inspect_backbone, nested
from sklearn_hier._data import LeafSplit
from sklearn_hier._device import check_device, fits_on_device
from sklearn_hier._validation import (
    check_ball,
    check_label_set_fit,
    learn_label_sets,
    learn_labels,
    rarest_label_strata,
    resolve_distance,
    validate_X,
    validate_y,
    warn_if_no_triplet,
)
from sklearn_hier.nn import Distance, LabelSetTable, LossSpec
from sklearn_hier.taxonomy import Taxonomy, is_multilabel

__all__ = ["FITTED_FIELDS", "NET_PREFIXES", "FitPlan", "Seeds", "make_plan"]

# Prefixes of the nested parameters: module__ and criterion__ build the network and the loss,
# geometry__ the map onto the Poincaré ball; the others reach the skorch net.
NET_PREFIXES = ("module", "criterion", "optimizer", "callbacks", "compile", "geometry")
# The plan's fields that are the estimator's fitted attributes (each with a trailing underscore).
FITTED_FIELDS = (
    "taxonomy",
    "classes",
    "input_shape",
    "loss_spec",
    "leaf_source",
    "level_heads_trained",
    "geometry",
    "device",
    "precision",
    "compile",
    "channels_last",
    "data_on_device",
)


@dataclass(frozen=True)
class Seeds:
    """The seeds one fit draws from ``random_state``: validation split, torch (weights), batches, later partial fits."""

    split: int
    torch: int
    train: int
    later: int

    @classmethod
    def draw(cls, random_state: Any) -> Seeds:
        """Four seeds, in this order, from ``random_state``."""
        split, torch_seed, train, later = check_random_state(random_state).randint(2**31 - 1, size=4)
        return cls(int(split), int(torch_seed), int(train), int(later))


@dataclass(frozen=True)
class FitPlan:
    """What one fit trains, resolved and frozen; see the module docstring.

    Attributes
    ----------
    taxonomy : Taxonomy
        The taxonomy of the training labels.
    classes : ndarray
        The training leaves in the user's form; on label sets, the classes
        (node keys).
    label_sets : LabelSetTable or None
        On label sets, the distinct training sets that the codes index.
    strata : ndarray of int or None
        On label sets, each set's stratum in the validation split (its
        rarest class); None for one leaf per sample.
    input_shape : tuple of int
    loss_spec : LossSpec
        ``losses`` and the ``criterion__*`` options, parsed.
    leaf_source : str or None
        The route from heads to a leaf.
    level_heads_trained : bool
    geometry : {"euclidean", "poincare"}
    distance : Distance
        ``metric`` resolved (not yet bound to the network's map).
    embedding_dim : int
        The backbone's output width.
    device : torch.device
    precision : {"float32", "bfloat16"}
    compile, channels_last, data_on_device : bool
    seeds : Seeds
    valid_size : float or None
        ``None`` when nothing is held out.
    params : mapping
        The estimator's parameters (nested ones included), read-only.
    """

    taxonomy: Taxonomy
    classes: np.ndarray
    label_sets: LabelSetTable | None
    strata: np.ndarray | None
    input_shape: tuple[int, ...]
    loss_spec: LossSpec
    leaf_source: str | None
    level_heads_trained: bool
    geometry: str
    distance: Distance
    embedding_dim: int
    device: torch.device
    precision: str
    compile: bool
    channels_last: bool
    data_on_device: bool
    seeds: Seeds
    valid_size: float | None
    params: Mapping[str, Any]

    def fitted_attributes(self) -> dict[str, Any]:
        """The estimator's fitted attributes: ``taxonomy_``, ``classes_``, ... (see :data:`FITTED_FIELDS`)."""
        return {f"{name}_": getattr(self, name) for name in FITTED_FIELDS}

    def split(self) -> LeafSplit | None:
        """skorch's ``train_split``: ``valid_size`` of each leaf's clips held out, or None."""
        return None if self.valid_size is None else LeafSplit(self.valid_size, self.seeds.split, self.strata)

    @property
    def n_classes(self) -> int | None:
        """On label sets, the number of classes (the width of the leaf head); else None."""
        return None if self.label_sets is None else len(self.label_sets.classes)


def make_plan(estimator: Any, X: Any, y: Any) -> tuple[FitPlan, Any, np.ndarray]:
    """Check ``X``, ``y`` and the parameters, and resolve the fit; returns the plan, ``X`` checked and leaf codes.

    Every error a fit can raise before training is raised here.
    """
    X = validate_X(estimator, X, reset=True)
    y = validate_y(estimator, y, X)
    params = estimator.get_params(deep=False)
    _check_parameter_names(params, type(estimator)._get_param_names())
    spec = LossSpec.parse(params["losses"], options=nested(params, "criterion"))
    if not any(weight > 0 for weight in spec.weights.values()):
        raise ValueError(
            f"losses={params['losses']!r} gives every term weight 0, so nothing would be trained and "
            "predictions would come from untrained heads; give at least one term a weight > 0."
        )
    leaf_source = spec.leaf_source(params["leaf_source"])
    geometry_options = nested(params, "geometry")
    distance = resolve_distance(params["metric"], params["geometry"], geometry_options)
    check_ball(params["geometry"], geometry_options)
    device = check_device(params["device"])
    owner = type(estimator).__name__
    table = strata = None
    if is_multilabel(y):
        check_label_set_fit(spec, params["triplets"], params["leaf_source"])
        taxonomy, table, codes = learn_label_sets(y, params["taxonomy"], params["sep"], owner)
        classes, strata = np.array(table.classes, dtype=object), rarest_label_strata(table, codes)
    else:
        taxonomy, classes, codes = learn_labels(y, params["taxonomy"], params["sep"], owner)
    seeds = Seeds.draw(params["random_state"])
    valid_size = params["valid_size"] if _validates(params["valid_size"]) else None
    split = None if valid_size is None else LeafSplit(valid_size, seeds.split, strata)
    # The split is drawn here too (same seed, same split) so that an impossible one fails before training.
    train_codes = codes if split is None else codes[split.indices(codes)[0]]
    if table is None:
        warn_if_no_triplet(spec, taxonomy, train_codes)
    input_shape = tuple(X.shape[1:])
    width, has_conv = inspect_backbone(params, input_shape)
    plan = FitPlan(
        taxonomy=taxonomy,
        classes=classes,
        label_sets=table,
        strata=strata,
        input_shape=input_shape,
        loss_spec=spec,
        leaf_source=leaf_source,
        level_heads_trained="levels" in spec.trained_heads,
        geometry=params["geometry"],
        distance=distance,
        embedding_dim=width,
        device=device,
        seeds=seeds,
        valid_size=valid_size,
        params=MappingProxyType(params),
        **_speed_settings(params, device, has_conv, _nbytes(X)),
    )
    return plan, X, codes


# Parameters of earlier releases, and where their values go now.
_MOVED = {"margin": "criterion__T__margin (the triplet term's option; the online miner mines for it)"}


def _check_parameter_names(params: Mapping[str, Any], signature: list[str]) -> None:
    for key in params:
        if key in _MOVED:
            raise ValueError(f"Invalid parameter {key!r}: it is now {_MOVED[key]}.")
        if key not in signature and key.split("__", 1)[0] not in NET_PREFIXES:
            raise ValueError(
                f"Invalid parameter {key!r}: nested parameters take one of the prefixes "
                f"{', '.join(p + '__' for p in NET_PREFIXES)}."
            )


def _validates(valid_size: Any) -> bool:
    return isinstance(valid_size, Real) and not isinstance(valid_size, bool) and valid_size > 0


def _nbytes(X: np.ndarray | torch.Tensor) -> int:
    return X.element_size() * X.numel() if isinstance(X, torch.Tensor) else X.nbytes


def _speed_settings(params: Mapping[str, Any], device: torch.device, has_conv: bool, data_bytes: int) -> dict:
    """``precision``, ``compile``, ``channels_last`` and ``data_on_device``, ``"auto"`` resolved for ``device``."""
    cuda = device.type == "cuda"
    chosen = {
        "compile": (
            params["compile"],
            lambda: cuda and params["triplets"] == "tree" and _net.COMPILE_REUSED_ACROSS_FITS,
        ),
        "channels_last": (params["channels_last"], lambda: cuda and has_conv),
        "data_on_device": (params["data_on_device"], lambda: fits_on_device(data_bytes, device)),
    }
    speed = {name: default() if value == "auto" else bool(value) for name, (value, default) in chosen.items()}
    speed["precision"] = ("bfloat16" if cuda else "float32") if params["precision"] == "auto" else params["precision"]
    return speed
