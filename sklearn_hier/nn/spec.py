"""The loss specification: the registry of term names, the ``"PL+0.5*T"`` grammar and the weighted sum.

A spec names terms of the registry with weights; :func:`parse_losses` reads it
once into ``{name: weight}`` and :class:`HierarchicalLoss` sums the weighted
terms. A new term (with any options) is a :class:`~sklearn_hier.nn.terms.LossTerm`
subclass made usable by name with :func:`register_loss_term`; its options go
through ``term_options`` or an instance passed in ``terms``, so neither
:class:`HierarchicalLoss` nor the estimator needs an edit.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from numbers import Real
from typing import Any

import numpy as np
import torch
from torch import nn

from sklearn_hier.nn.targets import Targets, Triplets
from sklearn_hier.nn.terms import (
    HierarchicalCrossEntropy,
    LeafCrossEntropy,
    LossTerm,
    NodeBinaryCrossEntropy,
    PerLevelCrossEntropy,
    SoftLabelCrossEntropy,
    TripletMarginLoss,
)
from sklearn_hier.taxonomy import Taxonomy

__all__ = ["HierarchicalLoss", "loss_term_class", "loss_term_names", "parse_losses", "register_loss_term"]


# -------------------------------------------------------------------- registry
_REGISTRY: dict[str, type[LossTerm]] = {
    "L": LeafCrossEntropy,
    "PL": PerLevelCrossEntropy,
    "B": NodeBinaryCrossEntropy,
    "T": TripletMarginLoss,
    "HXE": HierarchicalCrossEntropy,
    "SOFT": SoftLabelCrossEntropy,
}
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def loss_term_names() -> tuple[str, ...]:
    """Names usable in a loss spec, sorted.

    Examples
    --------
    >>> {"L", "PL", "B", "T", "HXE", "SOFT"} <= set(loss_term_names())
    True
    """
    return tuple(sorted(_REGISTRY))


def loss_term_class(name: str) -> type[LossTerm]:
    """The :class:`~sklearn_hier.nn.terms.LossTerm` subclass registered as ``name`` (case-insensitive).

    Its class attributes ``uses_triplets`` and ``head`` say what the term
    reads and trains, without building it.

    Examples
    --------
    >>> loss_term_class("t").uses_triplets, loss_term_class("PL").head
    (True, 'levels')
    """
    key = name.upper() if isinstance(name, str) else name
    if key not in _REGISTRY:
        raise ValueError(f"Unknown loss term {name!r}; valid names: {', '.join(loss_term_names())}.")
    return _REGISTRY[key]


def register_loss_term(name: str, cls: type[LossTerm], *, overwrite: bool = False) -> None:
    """Make a :class:`LossTerm` subclass usable by name in a loss spec.

    Names are case-insensitive (stored upper-case).

    Parameters
    ----------
    name : str
        A Python identifier such as ``"CENTER"``.
    cls : subclass of LossTerm
        Constructed as ``cls(taxonomy, **options)``.
    overwrite : bool, default=False
        Whether ``name`` may replace a registered term.

    Examples
    --------
    >>> class Zero(LossTerm):
    ...     def forward(self, embeddings, outputs, targets, triplets=None, *, weighted=None):
    ...         return embeddings.sum() * 0.0
    >>> register_loss_term("zero", Zero)
    >>> parse_losses("PL + Zero")
    {'PL': 1.0, 'ZERO': 1.0}
    >>> del _REGISTRY["ZERO"]  # leave the registry as this example found it
    """
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ValueError(f"A loss term name must be an identifier such as 'CENTER'; got {name!r}.")
    if not (isinstance(cls, type) and issubclass(cls, LossTerm)):
        raise TypeError(f"cls must be a subclass of LossTerm; got {cls!r}.")
    key = name.upper()
    if key in _REGISTRY and not overwrite and _REGISTRY[key] is not cls:
        raise ValueError(f"A loss term named {key!r} is already registered; pass overwrite=True to replace it.")
    _REGISTRY[key] = cls


# --------------------------------------------------------------------- grammar
_NUMBER = r"(?:\d+\.?\d*|\.\d+)(?:[eE]-?\d+)?"
_TERM = re.compile(rf"\s*(?:(?P<lead>{_NUMBER})\s*\*\s*)?(?P<name>\w+)(?:\s*\*\s*(?P<trail>{_NUMBER}))?\s*")


def parse_losses(spec: str | Mapping[str, float] | list[str] | tuple[str, ...]) -> dict[str, float]:
    """Read a loss spec into ``{term name: weight}``.

    Parameters
    ----------
    spec : str, dict or list of str
        ``"PL+T"``, ``"l + 0.5*T"`` (a weight may also follow: ``"T*0.5"``),
        ``{"PL": 1, "T": 0.5}`` or ``["PL", "T"]`` (weight 1 each). Names are
        case-insensitive; weights are finite numbers >= 0.

    Returns
    -------
    weights : dict of str to float
        Upper-case names in the order given.

    Raises
    ------
    ValueError
        On an unknown name (the message lists the valid ones), a name given
        twice, a bad weight or a spec that does not parse.
    TypeError
        If ``spec`` is of another type.

    Examples
    --------
    >>> parse_losses("l + 0.5*T")
    {'L': 1.0, 'T': 0.5}
    >>> parse_losses(["PL", "t"]) == parse_losses({"PL": 1, "T": 1}) == parse_losses("PL+T")
    True
    """
    if isinstance(spec, str):
        pairs = [_parse_term(part, spec) for part in spec.split("+")]
    elif isinstance(spec, Mapping):
        pairs = list(spec.items())
    elif isinstance(spec, (list, tuple)):
        pairs = [(name, 1.0) for name in spec]
    else:
        raise TypeError(f"losses must be a str, a dict or a list of term names; got {type(spec).__name__}.")
    if not pairs:
        valid = ", ".join(loss_term_names())
        raise ValueError(f"losses must name at least one term; got {spec!r}. Valid names: {valid}.")
    weights: dict[str, float] = {}
    for name, weight in pairs:
        key = _check_name_and_weight(name, weight, spec)
        if key in weights:
            raise ValueError(f"Loss term {key!r} appears twice in losses={spec!r}.")
        weights[key] = float(weight)
    return weights


def _parse_term(part: str, spec: str) -> tuple[str, float]:
    match = _TERM.fullmatch(part)
    if match is None or (match["lead"] and match["trail"]):
        raise ValueError(
            f"Cannot parse {part.strip()!r} in losses={spec!r}: expected NAME or WEIGHT*NAME joined by '+'."
        )
    return match["name"], float(match["lead"] or match["trail"] or 1.0)


def _check_name_and_weight(name: Any, weight: Any, spec: Any) -> str:
    if not isinstance(name, str):
        raise TypeError(f"Loss term names must be str; got {name!r} in losses={spec!r}.")
    key = name.upper()
    if key not in _REGISTRY:
        raise ValueError(f"Unknown loss term {name!r} in losses={spec!r}; valid names: {', '.join(loss_term_names())}.")
    if isinstance(weight, bool) or not isinstance(weight, Real) or not 0 <= weight < math.inf:
        raise ValueError(f"The weight of loss term {key!r} must be a finite number >= 0; got {weight!r}.")
    return key


# ------------------------------------------------------------------ the sum
class HierarchicalLoss(nn.Module):
    """Weighted sum of loss terms named by a spec such as ``"PL+0.5*T"``.

    Parameters
    ----------
    spec : str, dict or list of str
        See :func:`parse_losses`.
    taxonomy : Taxonomy
    margin : float, default=0.3
        Margin of "T".
    metric : {"cosine", "dot", "euclidean", "poincare"}, default="cosine"
        Similarity of "T".
    curvature : float or torch.nn.Module, default=1.0
        Curvature of "T" under ``metric="poincare"`` (see
        :class:`~sklearn_hier.nn.TripletMarginLoss`).
    level_reduction : {"sum", "mean"}, default="sum"
        How "PL" combines its levels (the reference code sums).
    hxe_alpha : float, default=0.1
        ``alpha`` of "HXE".
    soft_beta : float, default=10.0
        ``beta`` of "SOFT".
    term_options : dict of str to dict, optional
        Extra constructor keywords per term name, e.g. for a registered term.
    terms : dict of str to LossTerm, optional
        Ready-built terms by name, used instead of building them from the
        registry (each name must also be in ``spec``).

    Attributes
    ----------
    weights : dict of str to float
        The parsed spec.
    terms : torch.nn.ModuleDict
        The :class:`LossTerm` of each name.
    uses_triplets : bool
        Whether some term reads triplets.

    Examples
    --------
    >>> import torch
    >>> from sklearn_hier.nn.heads import HierarchicalHeads
    >>> from sklearn_hier.taxonomy import Taxonomy
    >>> tax = Taxonomy.from_paths(["a/x", "a/y", "b/z"])
    >>> loss = HierarchicalLoss("PL + 0.5*T", tax)
    >>> z = torch.randn(3, 4, generator=torch.Generator().manual_seed(0))
    >>> targets = Targets.from_y(["a/x", "a/y", "b/z"], tax)
    >>> total, parts = loss(z, HierarchicalHeads(tax, 4)(z), targets, tuple(torch.tensor([i]) for i in range(3)))
    >>> sorted(parts), loss.uses_triplets
    (['PL', 'T'], True)
    >>> bool(torch.isclose(total, parts["PL"] + 0.5 * parts["T"]))
    True
    """

    def __init__(
        self,
        spec: str | Mapping[str, float] | list[str],
        taxonomy: Taxonomy,
        *,
        margin: float = 0.3,
        metric: str = "cosine",
        curvature: Any = 1.0,
        level_reduction: str = "sum",
        hxe_alpha: float = 0.1,
        soft_beta: float = 10.0,
        term_options: Mapping[str, Mapping[str, Any]] | None = None,
        terms: Mapping[str, LossTerm] | None = None,
    ) -> None:
        super().__init__()
        if not isinstance(taxonomy, Taxonomy):
            raise TypeError(f"taxonomy must be a Taxonomy; got {type(taxonomy).__name__}.")
        self.spec = spec
        self.taxonomy = taxonomy
        self.weights = parse_losses(spec)
        options: dict[str, dict[str, Any]] = {
            "T": {"margin": margin, "metric": metric, "curvature": curvature},
            "PL": {"reduction": level_reduction},
            "HXE": {"alpha": hxe_alpha},
            "SOFT": {"beta": soft_beta},
        }
        for name, extra in (term_options or {}).items():
            options.setdefault(name.upper(), {}).update(extra)
        given = _check_given_terms(terms, self.weights)
        self.terms = nn.ModuleDict(
            {
                name: given[name] if name in given else _REGISTRY[name](taxonomy, **options.get(name, {}))
                for name in self.weights
            }
        )
        self.uses_triplets = any(term.uses_triplets for term in self.terms.values())

    def forward(
        self,
        embeddings: torch.Tensor,
        outputs: Any,
        targets: Targets,
        triplets: Triplets | None = None,
        *,
        include_triplet: bool = True,
        weighted: bool | None = None,
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Total weighted loss and the unweighted value of each term computed.

        Parameters
        ----------
        embeddings : Tensor of shape (B, D)
        outputs : HeadOutputs
        targets : Targets
        triplets : tuple of three LongTensors, optional
            Needed when a triplet term is included.
        include_triplet : bool, default=True
            ``False`` leaves the triplet terms out (the paper's validation loss).
        weighted : bool, optional
            Apply the class weights; ``None`` applies them in training mode only.

        Returns
        -------
        total : scalar Tensor
        parts : dict of str to scalar Tensor
        """
        total = embeddings.new_zeros(())
        parts: dict[str, torch.Tensor] = {}
        for name, term in self.terms.items():
            if term.uses_triplets and not include_triplet:
                continue
            parts[name] = term(embeddings, outputs, targets, triplets, weighted=weighted)
            total = total + self.weights[name] * parts[name]
        return total, parts

    def set_class_weights(self, leaf_counts: np.ndarray | None) -> None:
        """Set every term's class weights from per-leaf counts; ``None`` turns them off.

        Parameters
        ----------
        leaf_counts : ndarray of shape (taxonomy.n_leaves,) or None
            How often each leaf occurs in this epoch's sampled clips (see
            :meth:`~sklearn_hier.nn.sampling.TreeTripletSampler.leaf_counts`).

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn_hier.taxonomy import Taxonomy
        >>> loss = HierarchicalLoss("L", Taxonomy.from_paths(["a", "b"]))
        >>> loss.set_class_weights(np.array([1, 3]))
        >>> loss.terms["L"].class_weight
        tensor([0.7500, 0.2500])
        """
        if leaf_counts is not None:
            leaf_counts = np.array(leaf_counts, dtype=np.float64)
            n_leaves = self.taxonomy.n_leaves
            if leaf_counts.shape != (n_leaves,):
                raise ValueError(f"leaf_counts must have shape ({n_leaves},); got {leaf_counts.shape}.")
            if not np.all(np.isfinite(leaf_counts)) or np.any(leaf_counts < 0):
                raise ValueError("leaf_counts must be finite and >= 0.")
        for term in self.terms.values():
            term.set_class_weights(leaf_counts)


def _check_given_terms(terms: Mapping[str, LossTerm] | None, weights: Mapping[str, float]) -> dict[str, LossTerm]:
    given = {str(name).upper(): term for name, term in (terms or {}).items()}
    for name, term in given.items():
        if name not in weights:
            raise ValueError(f"terms names {name!r}, which the spec does not; the spec names {list(weights)}.")
        if not isinstance(term, LossTerm):
            raise TypeError(f"terms[{name!r}] must be a LossTerm instance; got {type(term).__name__}.")
    return given
