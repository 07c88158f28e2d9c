"""The loss specification: ``losses`` read once into a frozen :class:`LossSpec`, and the weighted sum of its terms.

``losses`` is the string grammar (``"PL+0.5*T"``; the built-in names are
sugar for default terms), a list of built-in names, or a mapping from a name
to a weight, a :class:`~sklearn_hier.nn.terms.LossTerm` object or
``(weight, term)``: ``{"PL": 1.0, "MR": MarginRanking(margin=0.2)}``.
:meth:`LossSpec.parse` reads any of them, once; the estimator, the net and the
comparison's configurations all ask the spec (its terms, weights, whether
triplets are used, which heads are trained, which route answers ``predict``).
:class:`HierarchicalLoss` binds the spec's terms to a fit and sums them.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from numbers import Real
from types import MappingProxyType
from typing import Any

import numpy as np
import torch
from torch import nn

from sklearn_hier.nn import terms
from sklearn_hier.nn.distances import Cosine, Distance
from sklearn_hier.nn.heads import LEAF_ROUTES
from sklearn_hier.nn.targets import LabelSetTable, Targets, TargetTables, Triplets
from sklearn_hier.nn.terms import LossTerm, TermContext
from sklearn_hier.taxonomy import Taxonomy

__all__ = ["BUILTIN_TERMS", "HierarchicalLoss", "LossSpec"]

BUILTIN_TERMS: Mapping[str, type[LossTerm]] = MappingProxyType(
    {
        "L": terms.LeafCrossEntropy,
        "PL": terms.PerLevelCrossEntropy,
        "B": terms.NodeBinaryCrossEntropy,
        "T": terms.TripletMarginLoss,
        "HXE": terms.HierarchicalCrossEntropy,
        "SOFT": terms.SoftLabelCrossEntropy,
    }
)
# The paper's order of its terms, used to spell a spec one way (LossSpec.canonical).
_PAPER_ORDER = ("L", "PL", "B", "T")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_NUMBER = r"(?:\d+\.?\d*|\.\d+)(?:[eE]-?\d+)?"
_TERM = re.compile(rf"\s*(?:(?P<lead>{_NUMBER})\s*\*\s*)?(?P<name>\w+)(?:\s*\*\s*(?P<trail>{_NUMBER}))?\s*")
# Options of the built-in terms that earlier releases took as criterion__<option>.
_RENAMED_OPTIONS = {
    "level_reduction": "criterion__PL__reduction",
    "hxe_alpha": "criterion__HXE__alpha",
    "soft_beta": "criterion__SOFT__beta",
    "margin": "criterion__T__margin",
    "term_options": "criterion__<NAME>__<option>",
    "terms": "a term object in losses, e.g. losses={'PL': 1.0, 'MR': MarginRanking()}",
}


@dataclass(frozen=True)
class LossSpec:
    """``losses`` parsed: each term's name, weight and (unbound) term object, in the order given.

    Build it with :meth:`parse`. The term objects are the spec's own copies,
    never the objects the caller passed.

    Attributes
    ----------
    entries : tuple of (str, float, LossTerm)
        Upper-case name, weight >= 0 and term.

    Examples
    --------
    >>> spec = LossSpec.parse("PL + 0.5*T", options={"T__margin": 0.2})
    >>> spec.weights, spec.terms["T"].margin, spec.uses_triplets, sorted(spec.trained_heads)
    ({'PL': 1.0, 'T': 0.5}, 0.2, True, ['levels'])
    >>> LossSpec.parse({"pl": 1, "T": (0.5, terms.TripletMarginLoss(margin=0.1))}).canonical
    'PL+0.5*T'
    """

    entries: tuple[tuple[str, float, LossTerm], ...]

    @classmethod
    def parse(
        cls, losses: Any, options: Mapping[str, Any] | None = None, terms: Mapping[str, LossTerm] | None = None
    ) -> LossSpec:
        """Read ``losses`` (see the module docstring), then apply ``options`` such as ``{"T__margin": 0.2}``.

        Parameters
        ----------
        losses : str, list of str, dict or LossSpec
        options : dict, optional
            ``"<NAME>__<option>"`` to value: the estimator's ``criterion__*``
            parameters without the prefix.
        terms : dict of str to LossTerm, optional
            Terms of your own that the names of ``losses`` may refer to besides
            the built-in ones (case-insensitive), e.g. ``"PL+MR"`` with
            ``terms={"MR": MarginRanking()}``: how a string names them.

        Raises
        ------
        ValueError
            An unknown built-in name (the message lists them and says how to
            pass a term of your own), a name given twice, a bad weight, a spec
            that does not parse, all weights 0, or an option that names no
            term of the spec or no option of its term.
        TypeError
            ``losses`` of another type, or a mapping value that is neither a
            weight, a term nor ``(weight, term)``.
        """
        if isinstance(losses, LossSpec):
            pairs = [(name, (weight, term)) for name, weight, term in losses.entries]
        elif isinstance(losses, str):
            pairs = [_parse_term(part, losses) for part in losses.split("+")]
        elif isinstance(losses, Mapping):
            pairs = list(losses.items())
        elif isinstance(losses, (list, tuple)):
            pairs = [(name, 1.0) for name in losses]
        else:
            raise TypeError(
                f"losses must be a str, a list of term names or a dict of name to weight or term; "
                f"got {type(losses).__name__}."
            )
        if not pairs:
            raise ValueError(f"losses must name at least one term; got {losses!r}. Built-in names: {_builtin()}.")
        entries: dict[str, tuple[float, LossTerm]] = {}
        for name, value in pairs:
            key = _check_name(name, losses)
            if key in entries:
                raise ValueError(f"Loss term {key!r} appears twice in losses={losses!r}.")
            entries[key] = _weight_and_term(key, value, losses, _own_terms(terms))
        spec = cls(tuple((name, weight, term) for name, (weight, term) in entries.items()))
        return spec._with_options(options or {}, losses)

    def _with_options(self, options: Mapping[str, Any], losses: Any) -> LossSpec:
        terms = {name: term for name, _, term in self.entries}
        changed: dict[str, dict[str, Any]] = {}
        for key, value in options.items():
            name, _, option = key.partition("__")
            if not option:
                hint = _RENAMED_OPTIONS.get(key)
                where = f" Use {hint}." if hint else ""
                raise ValueError(
                    f"criterion__{key} names no loss term: term options are criterion__<NAME>__<option>, "
                    f"e.g. criterion__T__margin=0.2.{where}"
                )
            if name.upper() not in terms:
                raise ValueError(
                    f"criterion__{key} names the loss term {name.upper()!r}, which losses={losses!r} does not "
                    f"have; its terms are {', '.join(terms)}."
                )
            changed.setdefault(name.upper(), {})[option] = value
        for name, values in changed.items():
            # Set on a copy, then built again so that the term's own checks see the new values now.
            terms[name] = terms[name].clone().set_params(**values).clone()
        return LossSpec(tuple((name, weight, terms[name]) for name, weight, _ in self.entries))

    @property
    def weights(self) -> dict[str, float]:
        """Name to weight."""
        return {name: weight for name, weight, _ in self.entries}

    @property
    def terms(self) -> dict[str, LossTerm]:
        """Name to (unbound) term."""
        return {name: term for name, _, term in self.entries}

    @property
    def uses_triplets(self) -> bool:
        """Whether some term reads triplets."""
        return any(term.uses_triplets for _, _, term in self.entries)

    @property
    def triplet_term(self) -> LossTerm | None:
        """The first term that reads triplets (the online miner mines for it), or None."""
        return next((term for _, _, term in self.entries if term.uses_triplets), None)

    @property
    def trained_heads(self) -> frozenset[str]:
        """The heads that a term of weight > 0 trains."""
        return frozenset(term.head for _, weight, term in self.entries if weight > 0 and term.head is not None)

    @property
    def canonical(self) -> str:
        """One spelling per spec: the paper's terms in order (L, PL, B, T), then others by name; no weight 1."""
        order = sorted(self.weights, key=lambda n: (_PAPER_ORDER.index(n) if n in _PAPER_ORDER else 4, n))
        return "+".join(n if self.weights[n] == 1 else f"{_exact(self.weights[n])}*{n}" for n in order)

    def leaf_source(self, requested: str) -> str | None:
        """The route from heads to a leaf: ``requested`` checked against the trained heads, or chosen for "auto".

        Examples
        --------
        >>> LossSpec.parse("PL+T").leaf_source("auto"), LossSpec.parse("T").leaf_source("auto")
        ('deepest_level', None)
        """
        heads = self.trained_heads
        if requested == "auto":
            # The leaf head answers directly; without it, the paper's deepest per-level head, then the node head.
            return next((route for route in ("leaf", "deepest_level", "nodes") if LEAF_ROUTES[route] in heads), None)
        if LEAF_ROUTES[requested] not in heads:
            # An untrained head would answer at random and pass for a measurement.
            raise ValueError(
                f"leaf_source={requested!r} reads the {LEAF_ROUTES[requested]!r} head, which losses={self.canonical!r} "
                "does not train; use leaf_source='auto' or add a term that trains it (leaf: L, HXE, SOFT; levels: "
                "PL; nodes: B)."
            )
        return requested


def _builtin() -> str:
    return ", ".join(BUILTIN_TERMS)


def _parse_term(part: str, spec: str) -> tuple[str, float]:
    match = _TERM.fullmatch(part)
    if match is None or (match["lead"] and match["trail"]):
        raise ValueError(
            f"Cannot parse {part.strip()!r} in losses={spec!r}: expected NAME or WEIGHT*NAME joined by '+'."
        )
    return match["name"], float(match["lead"] or match["trail"] or 1.0)


def _check_name(name: Any, losses: Any) -> str:
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise TypeError(f"Loss term names must be identifiers such as 'PL' or 'MR'; got {name!r} in losses={losses!r}.")
    return name.upper()


def _own_terms(terms: Mapping[str, LossTerm] | None) -> dict[str, LossTerm]:
    own = {}
    for name, term in (terms or {}).items():
        if not isinstance(name, str) or not _NAME.fullmatch(name) or name.upper() in BUILTIN_TERMS:
            raise ValueError(f"terms names its own terms with identifiers other than the built-in ones; got {name!r}.")
        if not isinstance(term, LossTerm):
            raise TypeError(f"terms[{name!r}] must be a LossTerm instance; got {term!r}.")
        own[name.upper()] = term
    return own


def _weight_and_term(key: str, value: Any, losses: Any, own: Mapping[str, LossTerm]) -> tuple[float, LossTerm]:
    weight, term = value if isinstance(value, tuple) and len(value) == 2 else (1.0, value)
    if isinstance(weight, LossTerm):
        raise TypeError(f"losses[{key!r}] must be (weight, term), not (term, weight); got {value!r}.")
    if isinstance(term, LossTerm):
        term = term.clone()
    elif isinstance(term, Real) and not isinstance(term, bool) and not isinstance(value, tuple):
        weight, term = term, None
    elif isinstance(term, type) and issubclass(term, LossTerm):
        raise TypeError(f"losses[{key!r}] is the class {term.__name__}; pass an instance: {term.__name__}().")
    else:
        raise TypeError(f"losses[{key!r}] must be a weight, a LossTerm or (weight, LossTerm); got {value!r}.")
    if isinstance(weight, bool) or not isinstance(weight, Real) or not 0 <= weight < math.inf:
        raise ValueError(f"The weight of loss term {key!r} must be a finite number >= 0; got {weight!r}.")
    if term is None and key in own:
        term = own[key].clone()
    if term is None:
        if key not in BUILTIN_TERMS:
            raise ValueError(
                f"Unknown loss term {key!r} in losses={losses!r}; built-in names: {_builtin()}. Pass a term of "
                f"your own as an object: losses={{'PL': 1.0, '{key}': MyTerm()}}."
            )
        term = BUILTIN_TERMS[key]()
    return float(weight), term


def _exact(weight: float) -> str:
    text = repr(float(weight))  # the shortest text that reads back as the same float
    return text[:-2] if text.endswith(".0") else text


# ------------------------------------------------------------------ the sum
class HierarchicalLoss(nn.Module):
    """Weighted sum of a spec's terms, each bound to one fit (taxonomy, embedding width, distance).

    Parameters
    ----------
    losses : str, list, dict or LossSpec
        See :class:`LossSpec`.
    taxonomy : Taxonomy
    distance : Distance, optional
        The fit's distance (:class:`~sklearn_hier.nn.distances.Cosine` when not given).
    embedding_dim : int, optional
        Width of the embeddings, for terms that size parameters by it.
    label_sets : LabelSetTable, optional
        For a fit on label sets (multi-label ``y``): its distinct sets, whose
        rows the codes index, and its classes. Every term must then declare
        :attr:`~sklearn_hier.nn.LossTerm.trains_on_label_sets`.

    Attributes
    ----------
    spec : LossSpec
    weights : dict of str to float
    terms : torch.nn.ModuleDict
        The bound :class:`LossTerm` of each name.
    tables : TargetTables
        The tables (of leaves, or of label sets) the batch targets are gathered from (buffers).
    uses_triplets : bool

    Examples
    --------
    >>> from sklearn_hier.nn.heads import HierarchicalHeads
    >>> tax = Taxonomy.from_paths(["a/x", "a/y", "b/z"])
    >>> loss = HierarchicalLoss("PL + 0.5*T", tax)
    >>> z = torch.randn(3, 4, generator=torch.Generator().manual_seed(0))
    >>> targets = loss.targets(torch.tensor([0, 1, 2]))
    >>> total, parts = loss(z, HierarchicalHeads(tax, 4)(z), targets, tuple(torch.tensor([i]) for i in range(3)))
    >>> sorted(parts), loss.uses_triplets
    (['PL', 'T'], True)
    >>> bool(torch.isclose(total, parts["PL"] + 0.5 * parts["T"]))
    True
    """

    def __init__(
        self,
        losses: Any,
        taxonomy: Taxonomy,
        *,
        distance: Distance | None = None,
        embedding_dim: int | None = None,
        label_sets: LabelSetTable | None = None,
    ) -> None:
        super().__init__()
        if not isinstance(taxonomy, Taxonomy):
            raise TypeError(f"taxonomy must be a Taxonomy; got {type(taxonomy).__name__}.")
        self.spec = losses if isinstance(losses, LossSpec) else LossSpec.parse(losses)
        self.taxonomy = taxonomy
        self.distance = Cosine() if distance is None else distance
        context = TermContext(taxonomy, embedding_dim, self.distance, label_sets)
        self.weights = self.spec.weights
        self.terms = nn.ModuleDict({name: term.bind(context) for name, _, term in self.spec.entries})
        self.tables = TargetTables(taxonomy, label_sets)
        self.uses_triplets = self.spec.uses_triplets

    def targets(self, leaf_codes: torch.Tensor) -> Targets:
        """The :class:`Targets` of a batch's codes (leaves, or label sets), gathered from :attr:`tables`."""
        return self.tables(leaf_codes)

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
        leaf_counts : ndarray of shape (tables.n_codes,) or None
            How often each leaf (or, on label sets, each distinct set) occurs
            in this epoch's sampled clips (see
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
            n_codes = self.tables.n_codes
            if leaf_counts.shape != (n_codes,):
                raise ValueError(f"leaf_counts must have shape ({n_codes},); got {leaf_counts.shape}.")
            if not np.all(np.isfinite(leaf_counts)) or np.any(leaf_counts < 0):
                raise ValueError("leaf_counts must be finite and >= 0.")
        for term in self.terms.values():
            term.set_class_weights(leaf_counts)
